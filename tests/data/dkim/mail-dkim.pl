#!/usr/bin/perl
# Perl's Mail::DKIM as an independent DKIM peer for mailsim's interop tests, with keys from a file.
#
#   mail-dkim.pl verify KEYS MESSAGE
#       prints one line per signature: "RESULT DOMAIN SELECTOR DETAIL"; public keys come from KEYS,
#       lines "selector._domainkey.domain TXT-TEXT" (opendkim's TestPublicKeys format), never DNS.
#   mail-dkim.pl sign DOMAIN SELECTOR PRIVATE-KEY-PEM CANONICALIZATION MESSAGE
#       prints the DKIM-Signature header field (rsa-sha256).
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Mail::DKIM::Signer;
use Net::DNS;

my %KEYS;

sub load_keys {
    my ($file) = @_;
    open my $fh, '<', $file or die "cannot read $file: $!\n";
    while (my $line = <$fh>) {
        chomp $line;
        next unless $line =~ /^(\S+)\s+(.+)$/;
        $KEYS{lc $1} = $2;
    }
    close $fh;
}

# Mail::DKIM asks Mail::DKIM::DNS::query(name, type) for the key; answer from the file instead.
{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($name, $type) = @_;
        my $text = $KEYS{lc $name};
        unless (defined $text && $type eq 'TXT') { $@ = 'NXDOMAIN'; return; }
        my @chunks = unpack '(A255)*', $text;
        $@ = 'NOERROR';
        return Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [@chunks]);
    };
}

sub read_message {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "cannot read $file: $!\n";
    local $/;
    my $data = <$fh>;
    close $fh;
    $data =~ s/\r?\n/\015\012/g;
    return $data;
}

my $mode = shift @ARGV // '';
if ($mode eq 'verify') {
    my ($keys, $message) = @ARGV;
    load_keys($keys);
    my $dkim = Mail::DKIM::Verifier->new();
    $dkim->PRINT(read_message($message));
    $dkim->CLOSE();
    my @sigs = $dkim->signatures;
    print "none - - no signature\n" unless @sigs;
    for my $sig (@sigs) {
        printf "%s %s %s %s\n", $sig->result, $sig->domain // '-', $sig->selector // '-', $sig->result_detail;
    }
}
elsif ($mode eq 'sign') {
    my ($domain, $selector, $keyfile, $canon, $message) = @ARGV;
    my $dkim = Mail::DKIM::Signer->new(
        Algorithm => 'rsa-sha256', Method => $canon, Domain => $domain, Selector => $selector, KeyFile => $keyfile,
        Headers => 'from:to:subject:date:message-id',
    );
    $dkim->PRINT(read_message($message));
    $dkim->CLOSE();
    print $dkim->signature->as_string, "\n";
}
else {
    die "usage: $0 verify KEYS MESSAGE | sign DOMAIN SELECTOR KEY.pem CANON MESSAGE\n";
}
