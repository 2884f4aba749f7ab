# make on a machine without the build dependencies names them and the
# command that installs them. make install into a DESTDIR: a second install keeps the operator's files
# under /etc/lava and puts the shipped ones beside them as .dist; make
# uninstall removes what it installed but the files the operator changed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use File::Find;
use File::Temp qw(tempdir);
use Test::More;

use LavaTest;

my $ROOT = $LavaTest::ROOT;
plan skip_all => 'no build (run make)' unless -x "$ROOT/build/lava-sidecar"
    && -f "$ROOT/build/ngx_http_lava_module.so";

my $d = tempdir('lava-install-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $etc = "$d/etc/lava";

sub make {
    my $out = `make -s -C $ROOT @_ DESTDIR=$d 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = make('install');
is $rc, 0, 'make install' or diag $out;
for my $f (qw(usr/lib/nginx/modules/ngx_http_lava_module.so usr/bin/lava-sidecar
              usr/bin/lava-migrate usr/share/lava/sql/schema/01_core.sql
              usr/share/man/man8/lava-sidecar.8 usr/share/man/man8/lava-migrate.8
              lib/systemd/system/lava-sidecar.service
              etc/lava/nginx-lava.conf etc/lava/lava-forward.conf etc/lava/lava-server.conf
              etc/lava/providers.conf etc/lava/sidecar.conf etc/lava/provider-keys)) {
    ok -e "$d/$f", "installed /$f";
}
is sprintf('%04o', (stat "$etc/provider-keys")[2] & 07777), '0600', 'provider-keys 0600';
is sprintf('%04o', (stat "$etc/sidecar.conf")[2] & 07777), '0640', 'sidecar.conf 0640';

# the operator's keys and settings
for my $f ('provider-keys', 'sidecar.conf') {
    open my $fh, '>>', "$etc/$f" or die $!;
    print $fh "# the operator's\n";
    close $fh;
}

($rc, $out) = make('install');
is $rc, 0, 'make install again' or diag $out;
for my $f ('provider-keys', 'sidecar.conf') {
    like LavaTest::slurp("$etc/$f"), qr/# the operator's\n\z/, "$f kept";
    is LavaTest::slurp("$etc/$f.dist"),
       LavaTest::slurp($f eq 'provider-keys' ? "$ROOT/conf/provider-keys.example" : "$ROOT/conf/$f"),
       "the shipped $f beside it as $f.dist";
    like $out, qr/kept \Q$etc\/$f\E \(yours\); the shipped one is \Q$etc\/$f\E\.dist/,
        "make install says so for $f";
}
ok !-e "$etc/nginx-lava.conf.dist", 'an unchanged file gets no .dist';

($rc, $out) = make('uninstall');
is $rc, 0, 'make uninstall' or diag $out;
my @left;
find(sub { push @left, $File::Find::name =~ s{^\Q$d\E}{}r if -f }, $d);
is_deeply [sort @left], ['/etc/lava/provider-keys', '/etc/lava/sidecar.conf'],
    'only the files the operator changed are left';
like $out, qr/kept \Q$etc\E\/provider-keys \(changed by you\)/, 'make uninstall names them';

# plain make where nginx-dev and libhiredis-dev are missing (a dpkg-query that
# says so, first on the PATH; a fresh build directory)
my $bin = tempdir('lava-nodeps-XXXXXX', TMPDIR => 1, CLEANUP => 1);
open my $fh, '>', "$bin/dpkg-query" or die $!;
print $fh <<'SH';
#!/bin/sh
for a; do p=$a; done
case $p in nginx-dev|libhiredis-dev) echo "dpkg-query: no packages found matching $p" >&2; exit 1 ;; esac
exec /usr/bin/dpkg-query "$@"
SH
close $fh;
chmod 0755, "$bin/dpkg-query";
for my $target ('', 'sidecar') {
    my $out = `PATH=$bin:\$PATH make -C $ROOT BUILD=$bin/build $target 2>&1`;
    my $rc = $? >> 8;
    isnt $rc, 0, "make " . ($target || "(all)") . " without build dependencies fails";
    like $out, qr/missing build dependencies: nginx-dev libhiredis-dev/, 'naming them';
    like $out, qr/make deps .*apt-get install nginx-dev libhiredis-dev/, 'and how to install them';
    unlike $out, qr/No such file or directory/, 'not with a missing directory';
}

done_testing;
