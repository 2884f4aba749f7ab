# docs/directives.md against the module's own tables (issue 15): every
# directive of the ngx_command_t table has a section in nginx's form (Syntax,
# Default, Context, then the text) whose Context is exactly where nginx
# accepts it, and whose Syntax matches its argument flags; no section
# documents a directive the module lacks; every $lava_* variable is listed.
# Reads the sources only: no nginx runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;

use LavaTest;

my $root = $LavaTest::ROOT;
my $src = LavaTest::slurp("$root/ngx_lava_module/ngx_http_lava_module.c");
my $doc = LavaTest::slurp("$root/docs/directives.md");
my $vars = LavaTest::slurp("$root/ngx_lava_module/ngx_http_lava_variables.c");

my %ctx_name = (NGX_HTTP_MAIN_CONF => 'http', NGX_HTTP_SRV_CONF => 'server',
                NGX_HTTP_LOC_CONF => 'location', NGX_HTTP_LIF_CONF => 'if in location',
                NGX_HTTP_SIF_CONF => 'if in server', NGX_HTTP_UPS_CONF => 'upstream');

# name => [flags]
my %cmd;
while ($src =~ /\{\s*ngx_string\("(lava_\w+)"\),\s*([A-Z0-9_|\s]+?),/g) {
    $cmd{$1} = [split /\s*\|\s*/, $2];
}
cmp_ok scalar(keys %cmd), '>=', 30, 'the command table is read (' . scalar(keys %cmd) . ' directives)';

# name => {syntax, default, context, text}
my %sec;
while ($doc =~ /^### (\S+)\n\n```\n(.*?)\n```\n\n(.*?)(?=^##|\z)/msg) {
    my ($name, $block, $text) = ($1, $2, $3);
    my %f = map { /^(\w+):\s+(.*)$/ ? (lc $1 => $2) : () } split /\n/, $block;
    $sec{$name} = { %f, text => $text, block => $block };
}

for my $name (sort keys %cmd) {
    my $s = $sec{$name};
    ok $s, "$name: documented in nginx's form" or next;
    my @flags = @{ $cmd{$name} };
    is_deeply [sort keys %{ { map { $_ => 1 } grep { !/^(syntax|default|context|text|block)$/ } keys %$s } }], [],
       "$name: only Syntax, Default and Context in its block";
    like $s->{syntax} // '', qr/^\Q$name\E( |;)/, "$name: Syntax starts with its name";
    ok defined $s->{default}, "$name: a Default line";
    my @want = map { $ctx_name{$_} // () } @flags;
    is $s->{context}, join(', ', @want), "$name: Context is where nginx accepts it";
    if (grep { $_ eq 'NGX_CONF_FLAG' } @flags) {
        like $s->{syntax}, qr/^\Q$name\E on \| off;$/, "$name: Syntax of a flag";
        like $s->{default}, qr/^\Q$name\E (on|off);$/, "$name: Default of a flag";
    }
    if (grep { $_ eq 'NGX_CONF_NOARGS' } @flags) {
        like $s->{syntax}, qr/^\Q$name\E( \[|;)/, "$name: Syntax without a required argument";
    } else {
        unlike $s->{syntax}, qr/^\Q$name\E;$/, "$name: Syntax with its arguments";
    }
    my @take = map { /^NGX_CONF_TAKE(\d)$/ ? $1 : () } @flags;
    if (@take == 1 && !grep { /^NGX_CONF_(NOARGS|1MORE|2MORE)$/ } @flags) {
        my ($args) = $s->{syntax} =~ /^\Q$name\E (.*);$/;
        (my $alts = $args // '') =~ s/\s*\|\s*/|/g;    # "refuse | serve": one argument
        my @a = split ' ', $alts;
        is scalar(@a), $take[0], "$name: Syntax with $take[0] argument(s)";
    }
    ok $s->{text} =~ /\S/, "$name: a text after the block";
}

for my $name (sort keys %sec) {
    ok $cmd{$name}, "$name: documented and in the command table";
}

# the variables
my @vars = $vars =~ /ngx_string\("(lava_\w+)"\)/g;
cmp_ok scalar(@vars), '>=', 10, 'the variables are read';
my ($vsec) = $doc =~ /^## Variables\n(.*?)(?=^## )/ms;
for my $v (@vars) {
    like $vsec // '', qr/`\$\Q$v\E`/, "\$$v is listed under Variables";
}

done_testing;
