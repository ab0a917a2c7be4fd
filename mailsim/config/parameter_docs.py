"""The main.cf parameters mailsim knows: kind and one line of documentation each (data, not code).

Two tables. ``MODELLED``: the parameters mailsim reads and acts on (a test holds every name to code that
reads it). ``CHECKED``: parameters mailsim knows but does not act on; their values are checked as
Postfix would (a bad time or size is an error), but setting them changes nothing in a simulation.

One line per parameter: ``name  kind  doc``. Kinds: time (a number with an optional unit s, m, h, d,
w; a bare number takes the unit of the Postfix default, so ``maximal_queue_lifetime = 3`` means 3
days), size and int (plain decimal numbers; Postfix takes no units here), bool (yes/no), list
(comma/whitespace list with ``{}`` grouping), maps (a list of ``type:name`` tables) and string.
Defaults are not repeated here: they come from :mod:`mailsim.config.postfix_defaults`, the one
snapshot of Postfix 3.7's own table. Grouped by the daemon that reads them.
"""

from __future__ import annotations

MODELLED = """
# identity and network (master, smtpd, trivial-rewrite)
compatibility_level string Postfix version whose defaults this main.cf expects; below 1 or 2 the old defaults stay
myhostname string fully qualified name of this host, in HELO/EHLO, Received: and the SMTP banner
mydomain string internet domain of this host, used by the mydestination and myorigin defaults
myorigin string domain appended to unqualified sender addresses of locally posted mail
mydestination list domains this host is the final destination for (delivered by local_transport)
mynetworks list trusted client networks for permit_mynetworks; default computed per mynetworks_style
mynetworks_style string how the mynetworks default is computed: host, subnet or class
inet_interfaces list addresses smtpd listens on; also makes mail to [those addresses] local
inet_protocols list IP versions used: all, ipv4, ipv6
proxy_interfaces list addresses of a proxy or NAT in front of this host, counted as local
config_directory string where main.cf and master.cf live
queue_directory string root of the queue folders
mail_name string name in the SMTP greeting and Received headers
syslog_name string program name prefix of maillog lines
service_name string master.cf name of the running service, for logging and -o overrides
helpful_warnings bool log warnings about likely configuration mistakes
# address rewriting (trivial-rewrite, cleanup)
append_at_myorigin bool append @$myorigin to addresses without a domain
append_dot_mydomain bool append .$mydomain to user@host addresses without a dot in the domain
allow_percent_hack bool rewrite user%domain@here to user@domain
swap_bangpath bool rewrite site!user to user@site
recipient_delimiter string characters separating user from extension (user+ext@domain)
resolve_dequoted_address bool resolve the unquoted form of a quoted local part (closes "user@x"@here relaying)
resolve_null_domain bool resolve user@ as a local address instead of rejecting it
resolve_numeric_domain bool resolve user@ipaddress as local when the address is one of ours
empty_address_recipient string recipient of mail addressed to the null address
canonical_maps maps address rewriting for sender and recipient, envelope and header
sender_canonical_maps maps address rewriting for senders only
recipient_canonical_maps maps address rewriting for recipients only
canonical_classes list which addresses canonical_maps rewrites
sender_canonical_classes list which addresses sender_canonical_maps rewrites
recipient_canonical_classes list which addresses recipient_canonical_maps rewrites
masquerade_domains list domains whose subdomains are hidden in sender addresses
masquerade_classes list which addresses masquerading rewrites
masquerade_exceptions list users whose addresses are never masqueraded
propagate_unmatched_extensions list lookups that carry an unmatched +extension over to the result
local_header_rewrite_clients list clients whose header addresses are rewritten like local mail
virtual_alias_maps maps address-to-address aliasing applied to every recipient
virtual_alias_domains list domains whose every address must be aliased by virtual_alias_maps
virtual_alias_expansion_limit int most addresses one virtual alias expansion may produce
virtual_alias_recursion_limit int deepest nesting of virtual alias expansion
relocated_maps maps "user has moved to" table for 5.1.6 bounces
# routing (trivial-rewrite, qmgr)
relay_domains list domains this host relays to (address class relay)
relayhost string next hop for non-local mail; [host] suppresses the MX lookup
transport_maps maps per-address and per-domain transport:nexthop overrides
default_transport string transport for the default (remote) address class
local_transport string transport for the local address class
virtual_transport string transport for virtual_mailbox_domains
relay_transport string transport for relay_domains
fallback_transport string local(8) transport for recipients not found locally
mailbox_transport string local(8) hands mailbox delivery to this transport when set
mailbox_command string local(8) pipes mailbox delivery through this command when set
mailbox_command_maps maps per-user mailbox_command
mailbox_transport_maps maps per-user mailbox_transport
fallback_transport_maps maps per-user fallback_transport
defer_transports list transports whose mail stays queued until flushed
content_filter string transport:nexthop every message is sent to after queueing
soft_bounce bool turn permanent errors into temporary ones (mail stays queued)
# smtpd: session and limits
smtpd_banner string text after 220 in the greeting
smtpd_timeout time idle time before smtpd drops a client
smtpd_error_sleep_time time pause before error replies once smtpd_soft_error_limit is reached
smtpd_soft_error_limit int errors after which every error reply is delayed
smtpd_hard_error_limit int errors after which smtpd disconnects
smtpd_junk_command_limit int NOOP/VRFY/ETRN/RSET allowed before counting as errors
smtpd_recipient_limit int most recipients accepted per message
smtpd_client_connection_count_limit int simultaneous connections per client (anvil)
smtpd_client_connection_rate_limit int connections per client per anvil_rate_time_unit (0 = off)
smtpd_client_message_rate_limit int messages per client per anvil_rate_time_unit (0 = off)
smtpd_client_recipient_rate_limit int recipients per client per anvil_rate_time_unit (0 = off)
smtpd_client_event_limit_exceptions list clients exempt from the connection and rate limits
smtpd_helo_required bool require HELO/EHLO before MAIL FROM
smtpd_delay_reject bool delay client/helo/sender rejections until RCPT TO
smtpd_discard_ehlo_keywords list EHLO keywords not announced
smtpd_null_access_lookup_key string access-table key for the null sender
smtpd_reject_footer string text appended to every 4xx/5xx reply
disable_vrfy_command bool refuse VRFY
smtputf8_enable bool announce SMTPUTF8 and accept UTF-8 addresses
allow_untrusted_routing bool accept sender-specified routing (user@a@b, %, !) from untrusted clients
message_size_limit size largest message accepted, in bytes (SIZE announced in EHLO)
line_length_limit int longest line before it is broken, in bytes
in_flow_delay time pause per message when the queue is busy
anvil_rate_time_unit time the period of the smtpd rate limits
# smtpd: restrictions (policy/restrictions.py)
smtpd_client_restrictions list restrictions on the connecting client
smtpd_helo_restrictions list restrictions on the HELO/EHLO name
smtpd_sender_restrictions list restrictions on MAIL FROM
smtpd_relay_restrictions list relay-control restrictions, evaluated before smtpd_recipient_restrictions
smtpd_recipient_restrictions list restrictions on RCPT TO (spam blocking)
smtpd_data_restrictions list restrictions on DATA
smtpd_end_of_data_restrictions list restrictions after the message content
smtpd_etrn_restrictions list restrictions on ETRN
smtpd_restriction_classes list names of user-defined restriction lists usable as access results
smtpd_reject_unlisted_recipient bool reject unknown recipients in local, virtual and relay domains
smtpd_reject_unlisted_sender bool reject unknown senders in those domains
local_recipient_maps maps the known local recipients (empty: accept any)
relay_recipient_maps maps the known recipients in relay_domains (empty: accept any)
parent_domain_matches_subdomains list features where "example.com" also matches sub.example.com
reject_code int reply code of reject
defer_code int reply code of defer
access_map_reject_code int reply code of REJECT in access tables
access_map_defer_code int reply code of DEFER in access tables
relay_domains_reject_code int reply code of reject_unauth_destination
unknown_address_reject_code int reply code when a sender or recipient domain does not resolve
unknown_client_reject_code int reply code of reject_unknown_client_hostname
unknown_hostname_reject_code int reply code of reject_unknown_helo_hostname
invalid_hostname_reject_code int reply code of reject_invalid_helo_hostname
non_fqdn_reject_code int reply code of the reject_non_fqdn_* restrictions
unknown_local_recipient_reject_code int reply code for unknown local recipients
unknown_relay_recipient_reject_code int reply code for unknown relay recipients
unknown_virtual_alias_reject_code int reply code for unknown virtual alias recipients
unknown_virtual_mailbox_reject_code int reply code for unknown virtual mailbox recipients
maps_rbl_reject_code int reply code of reject_rbl_client and friends
multi_recipient_bounce_reject_code int reply code of reject_multi_recipient_bounce
plaintext_reject_code int reply code when TLS is required and missing
unknown_address_tempfail_action string temporary-failure action for unknown sender/recipient domains
unknown_helo_hostname_tempfail_action string temporary-failure action for reject_unknown_helo_hostname
default_rbl_reply string template of the reply to a DNSBL-listed client
rbl_reply_maps maps per-DNSBL reply templates
# smtpd: SASL, TLS and policy services
smtpd_sasl_auth_enable bool offer AUTH
smtpd_sasl_authenticated_header bool record the SASL user name in Received
smtpd_sender_login_maps maps which SASL users may use which MAIL FROM addresses
smtpd_tls_security_level string none, may or encrypt for the SMTP server
smtpd_tls_auth_only bool offer AUTH only after STARTTLS
smtpd_tls_wrappermode bool TLS from the first byte (port 465 submissions)
smtpd_tls_cert_file string server certificate (PEM)
smtpd_tls_key_file string server private key (PEM)
smtpd_tls_received_header bool record the TLS protocol and cipher in Received
smtpd_milters list Milter applications for SMTP mail
non_smtpd_milters list Milter applications for locally posted mail
# cleanup
header_checks maps regexp/pcre tables applied to primary header lines
mime_header_checks maps tables applied to MIME headers
nested_header_checks maps tables applied to headers of attached messages
body_checks maps tables applied to body lines
always_bcc string address that gets a copy of every message
sender_bcc_maps maps per-sender BCC addresses
recipient_bcc_maps maps per-recipient BCC addresses
always_add_missing_headers bool add From/To/Date/Message-ID also to mail from remote clients
undisclosed_recipients_header string To: header added when a message has no recipient headers
enable_original_recipient bool record the original recipient for DSNs and logging
hopcount_limit int Received headers after which mail bounces as looping
duplicate_filter_limit int recipients remembered to drop duplicates
enable_long_queue_ids bool long, time-ordered queue IDs instead of short hex ones
hash_queue_names list queue folders split into hashed subfolders
hash_queue_depth int subfolder levels of those queues
# qmgr and scheduling
queue_run_delay time how often the deferred queue is scanned
minimal_backoff_time time shortest retry interval of a deferred message
maximal_backoff_time time longest retry interval of a deferred message
maximal_queue_lifetime time how long a message may stay queued before it bounces
bounce_queue_lifetime time the same for bounce messages (null sender)
delay_warning_time time send a delay notice after this long (0 = never)
qmgr_message_active_limit int messages in the active queue at most
initial_destination_concurrency int parallel deliveries to a new destination
default_destination_concurrency_limit int parallel deliveries to one destination at most
default_destination_recipient_limit int recipients per delivery at most
default_destination_concurrency_positive_feedback string concurrency increase per delivery success
default_destination_concurrency_negative_feedback string concurrency decrease per delivery failure
default_destination_concurrency_failed_cohort_limit int failed cohorts after which a destination is dead
default_destination_rate_delay time pause between deliveries to one destination
default_transport_rate_delay time pause between deliveries by one transport
default_process_limit int processes per master.cf service when maxproc is -
default_recipient_limit int recipients in memory per transport
default_extra_recipient_limit int extra recipients per transport in memory
default_recipient_refill_limit int recipients read at once per message
default_recipient_refill_delay time pause before reading more recipients of a message
default_delivery_slot_cost int deliveries before a message may preempt another
default_delivery_slot_loan int slots a preempting message may borrow
default_delivery_slot_discount int percentage of slots counted when preempting
default_minimum_delivery_slots int recipients needed before a message may preempt
local_destination_concurrency_limit int parallel deliveries per local recipient
local_destination_recipient_limit int recipients per local delivery
# smtp and lmtp clients
smtp_connect_timeout time time allowed to open a connection
smtp_helo_timeout time time allowed for the greeting and the HELO/EHLO reply
smtp_mail_timeout time time allowed for the MAIL FROM reply
smtp_rcpt_timeout time time allowed for each RCPT TO reply
smtp_data_init_timeout time time allowed for the DATA reply
smtp_data_xfer_timeout time time allowed per write of message content
smtp_data_done_timeout time time allowed for the reply after the final dot
smtp_quit_timeout time time allowed for the QUIT reply
smtp_starttls_timeout time time allowed for the TLS handshake
smtp_helo_name string name the client sends in HELO/EHLO
smtp_mx_address_limit int addresses tried per delivery at most
smtp_mx_session_limit int sessions per delivery at most
smtp_address_preference string ipv4, ipv6 or any when a host has both
smtp_randomize_addresses bool shuffle equal-preference MX hosts
smtp_skip_5xx_greeting bool try the next MX host after a 5xx greeting
smtp_fallback_relay list hosts tried when the destination cannot be reached
smtp_line_length_limit int longest line sent before it is folded
smtp_sasl_auth_enable bool authenticate to the next hop
smtp_sasl_password_maps maps credentials per nexthop or sender (user:password)
smtp_tls_security_level string none, may, encrypt, dane, verify or secure for the client
lmtp_connect_timeout time time allowed to open an LMTP connection
lmtp_sasl_auth_enable bool authenticate to the LMTP server
# local, virtual and pipe delivery
alias_maps maps alias tables consulted by local(8)
alias_database maps alias tables rebuilt by newaliases
forward_path list where local(8) looks for .forward files
allow_mail_to_commands list where "|command" destinations are allowed (alias, forward, include)
allow_mail_to_files list where "/file" destinations are allowed
mail_spool_directory string folder of mbox mailboxes (a trailing / means Maildir)
home_mailbox string mailbox path under the home folder (a trailing / means Maildir)
mailbox_size_limit size largest mailbox file local(8) writes, in bytes
mailbox_delivery_lock list locking method for mbox delivery
luser_relay string where mail for unknown local users goes
owner_request_special bool treat owner-name and name-request specially
expand_owner_alias bool send bounces for list to the owner-list alias
prepend_delivered_header list deliveries that add Delivered-To:
frozen_delivered_to bool Delivered-To: shows the address before .forward expansion
command_time_limit time time a "|command" delivery may take
virtual_mailbox_domains list domains served by virtual(8) mailboxes
virtual_mailbox_maps maps the virtual mailbox of each address
virtual_mailbox_base string folder prepended to virtual_mailbox_maps results
virtual_mailbox_limit size largest virtual mailbox file, in bytes
virtual_uid_maps maps owner user ID of each virtual mailbox
virtual_gid_maps maps owner group ID of each virtual mailbox
virtual_minimum_uid int smallest user ID virtual(8) delivers as
# bounce and notices
bounce_notice_recipient string who gets postmaster copies of bounces
2bounce_notice_recipient string who gets undeliverable bounces
notify_classes list which problems are reported to the postmaster
double_bounce_sender string sender of mail that must never bounce
"""

CHECKED = """
# identity and network (master, smtpd, trivial-rewrite)
mail_version string Postfix version this configuration emulates
mail_owner string owner of the queue and of most daemon processes
default_privs string user rights for deliveries to external files and commands
syslog_facility string syslog facility of maillog lines
maillog_file string file the postlog service writes when set
process_name string name of the running program, for logging
stress string set to yes by master when smtpd runs out of processes (stress-dependent defaults)
# address rewriting (trivial-rewrite, cleanup)
remote_header_rewrite_domain string domain appended to incomplete header addresses from remote clients
virtual_alias_address_length_limit int longest address virtual alias expansion may produce
# routing (trivial-rewrite, qmgr)
sender_dependent_relayhost_maps maps relayhost chosen by envelope sender
sender_dependent_default_transport_maps maps default_transport chosen by envelope sender
disable_dns_lookups bool never look up MX records (obsolete; see smtp_dns_support_level)
best_mx_transport string transport for mail where this host is the best MX
default_filter_nexthop string nexthop for content_filter without one
# smtpd: session and limits
smtpd_recipient_overshoot_limit int recipients over the limit before it counts as an error
smtpd_peername_lookup bool look up the client's name in DNS
smtpd_forbidden_commands list commands that end the session at once (HTTP and proxy probes)
smtpd_log_access_permit_actions list access actions that log even when they permit
smtpd_service_name string name smtpd uses for itself
strict_rfc821_envelopes bool require <> around MAIL FROM and RCPT TO addresses
header_size_limit size largest header kept, in bytes
anvil_status_update_time time how often anvil logs its peak figures
# smtpd: restrictions (policy/restrictions.py)
smtpd_relay_before_recipient_restrictions bool evaluate relay restrictions before recipient restrictions
permit_mx_backup_networks list networks whose domains permit_mx_backup relays for
unverified_recipient_reject_code int reply code of reject_unverified_recipient
unverified_sender_reject_code int reply code of reject_unverified_sender
reject_tempfail_action string what a temporary lookup failure in a reject_* restriction does
unverified_recipient_tempfail_action string temporary-failure action for reject_unverified_recipient
# smtpd: SASL, TLS and policy services
smtpd_sasl_type string SASL implementation (cyrus or dovecot)
smtpd_sasl_path string SASL server socket or configuration name
smtpd_sasl_security_options list mechanisms refused without TLS (noanonymous, noplaintext)
smtpd_sasl_tls_security_options list mechanisms refused over TLS
smtpd_sasl_local_domain string realm appended to SASL user names
smtpd_sasl_exceptions_networks list clients not offered AUTH
smtpd_use_tls bool obsolete: same as smtpd_tls_security_level = may
smtpd_enforce_tls bool obsolete: same as smtpd_tls_security_level = encrypt
smtpd_tls_chain_files list server keys and certificate chains (PEM)
smtpd_tls_CAfile string CA certificates for client certificates
smtpd_tls_ask_ccert bool ask clients for a certificate
smtpd_tls_req_ccert bool require a client certificate
smtpd_tls_loglevel int how much smtpd logs about TLS
smtpd_tls_protocols list TLS versions offered with opportunistic TLS
smtpd_tls_mandatory_protocols list TLS versions required with mandatory TLS
smtpd_tls_ciphers string cipher grade with opportunistic TLS
smtpd_tls_mandatory_ciphers string cipher grade with mandatory TLS
smtpd_starttls_timeout time time allowed for the TLS handshake
smtpd_policy_service_timeout time time allowed for a policy server's answer
smtpd_policy_service_max_idle time idle time before a policy connection is closed
smtpd_policy_service_max_ttl time lifetime of a policy connection
smtpd_policy_service_default_action string action when the policy server cannot be reached
smtpd_policy_service_try_limit int attempts to reach the policy server
smtpd_policy_service_retry_delay time pause between those attempts
smtpd_policy_service_request_limit int requests per policy connection (0 = no limit)
smtpd_policy_service_policy_context string text passed to the policy server as policy_context
# cleanup
body_checks_size_limit size how much of each body part body_checks sees
header_from_format string how a missing From: header is written (standard or obsolete)
message_drop_headers list headers cleanup removes
receive_override_options list switches for skipping cleanup features (no_address_mappings, ...)
message_strip_characters string characters removed from message content
message_reject_characters string characters that make cleanup reject the message
cleanup_service_name string name of the cleanup service
rewrite_service_name string name of the trivial-rewrite service
# qmgr and scheduling
confirm_delay_cleared bool tell the sender when a delayed message was finally delivered
transport_retry_time time pause before a transport that failed is tried again
qmgr_message_recipient_limit int recipients in memory at most
qmgr_message_recipient_minimum int recipients each message may keep in memory
qmgr_fudge_factor int share of delivery slots kept for bounces (percent)
qmgr_clog_warn_time time how often qmgr warns that a transport is clogged
qmgr_daemon_timeout time how long qmgr may be busy before it is killed
qmgr_ipc_timeout time how long qmgr waits on a delivery agent's reply
destination_concurrency_feedback_debug bool log each concurrency change
max_idle time how long an idle daemon waits before exiting
max_use int requests a daemon serves before exiting
daemon_timeout time how long a daemon may be busy before it is killed
ipc_timeout time time allowed for internal communication
# smtp and lmtp clients
smtp_rset_timeout time time allowed for the RSET reply
smtp_tcp_port string port used when the nexthop names none
smtp_always_send_ehlo bool send EHLO even without ESMTP in the banner
smtp_never_send_ehlo bool send HELO only
smtp_defer_if_no_mx_address_found bool defer instead of using A records when MX hosts have no address
smtp_host_lookup list dns and/or native name resolution
smtp_dns_support_level string disabled, enabled or dnssec
smtp_bind_address string local IPv4 address for outgoing connections
smtp_generic_maps maps address rewriting for outgoing SMTP mail
smtp_connection_cache_destinations list destinations whose connections are cached
smtp_connection_cache_on_demand bool cache connections to destinations with a backlog
smtp_connection_cache_time_limit time how long an idle cached connection is kept
smtp_connection_reuse_time_limit time how long one connection may be reused
smtp_connection_reuse_count_limit int how often one connection may be reused (0 = no limit)
smtp_sasl_security_options list mechanisms refused without TLS
smtp_sasl_tls_security_options list mechanisms refused over TLS
smtp_sasl_mechanism_filter list mechanisms the client may choose
smtp_sender_dependent_authentication bool look up credentials by sender first
smtp_use_tls bool obsolete: same as smtp_tls_security_level = may
smtp_enforce_tls bool obsolete: same as smtp_tls_security_level = encrypt
smtp_tls_policy_maps maps per-destination TLS security levels
smtp_tls_wrappermode bool TLS from the first byte (port 465)
smtp_tls_CAfile string CA certificates for server certificates
smtp_tls_cert_file string client certificate (PEM)
smtp_tls_key_file string client private key (PEM)
smtp_tls_loglevel int how much the client logs about TLS
smtp_tls_protocols list TLS versions offered with opportunistic TLS
smtp_tls_mandatory_protocols list TLS versions required with mandatory TLS
smtp_tls_ciphers string cipher grade with opportunistic TLS
smtp_tls_note_starttls_offer bool log servers that offer STARTTLS when TLS is off
lmtp_tcp_port string port of LMTP over TCP
lmtp_lhlo_name string name sent in LHLO
lmtp_lhlo_timeout time time allowed for the LHLO reply
# local, virtual and pipe delivery
local_command_shell string shell for "|command" deliveries
command_expansion_filter string characters allowed in $name expansions of commands
forward_expansion_filter string characters allowed in $name expansions of forward_path
require_home_directory bool defer when the recipient's home folder is missing
strict_mailbox_ownership bool defer when the mailbox is owned by someone else
biff bool notify the comsat service of new mail
virtual_mailbox_lock list locking method for virtual mbox delivery
# bounce and notices
bounce_size_limit size how much of the original message a DSN carries
delay_notice_recipient string who gets postmaster copies of delay notices
error_notice_recipient string who gets notices about software and resource problems
bounce_template_file string file with the texts of DSN messages
disable_verp_bounces bool one bounce for all recipients instead of one per recipient
enable_threaded_bounces bool thread bounces with the original message
bounce_service_name string name of the bounce service
defer_service_name string name of the defer service
# address verification and DNS checks
address_verify_map maps cache of address verification results
address_verify_sender string sender of address verification probes
address_verify_poll_count int polls before smtpd answers 450 to an unverified address
address_verify_poll_delay time pause between those polls
address_verify_positive_expire_time time how long a verified address stays known
address_verify_negative_expire_time time how long a failed address stays known
address_verify_negative_cache bool remember failed addresses
address_verify_sender_ttl time how often the probe sender changes
"""
