"""mailsim: a discrete-event simulator of Internet mail (UA, MSA, MTA, DA, AA) in virtual time and on live sockets."""

__version__ = "0.1.0"
