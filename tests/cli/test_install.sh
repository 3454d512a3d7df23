#!/usr/bin/env bash
# `make install DESTDIR=... PREFIX=...`, the installed systemd unit checked
# by systemd's own analyzer (systemd-analyze verify, offline, in a root
# made of the install and the host's unit files, so it runs without
# systemd as PID 1), and the man page: rendered by man(1) without a
# warning, naming every subcommand of `tokenward --help` and every exit code.
. "$(dirname "$0")/../live/lib.sh"

DEST=$TW_TMP/dest
inst() { make -C "$TW_ROOT" --no-print-directory install BUILD="$TW_BUILD" "$@" >"$TW_TMP/make.out" 2>&1; }

if inst DESTDIR="$DEST" PREFIX=/usr; then ok install_runs; else not_ok install_runs "$(tail -5 "$TW_TMP/make.out")"; exit 1; fi
missing=
for f in usr/sbin/tokenward usr/lib/systemd/system/tokenward.service usr/share/man/man8/tokenward.8 \
         etc/tokenward/tokenward.yaml usr/share/tokenward/rules/tokenward.yaml; do
  [ -f "$DEST/$f" ] || missing+=" $f"
done
[ -z "$missing" ] && ok install_files || not_ok install_files "missing:$missing"
[ -x "$DEST/usr/sbin/tokenward" ] && "$DEST/usr/sbin/tokenward" --version >/dev/null &&
  ok install_binary_runs || not_ok install_binary_runs "not executable"
grep -q '^ExecStart=/usr/sbin/tokenward run --config /etc/tokenward/tokenward.yaml$' "$DEST/usr/lib/systemd/system/tokenward.service" &&
  ! grep -q '@[A-Z]*@' "$DEST/usr/lib/systemd/system/tokenward.service" &&
  ok install_unit_paths_filled || not_ok install_unit_paths_filled "$(grep Exec "$DEST/usr/lib/systemd/system/tokenward.service")"

# An operator's config is never overwritten.
echo '# mine' >"$DEST/etc/tokenward/tokenward.yaml"
inst DESTDIR="$DEST" PREFIX=/usr && [ "$(cat "$DEST/etc/tokenward/tokenward.yaml")" = '# mine' ] &&
  ok install_keeps_config || not_ok install_keeps_config "the config was replaced"

# The default prefix: where systemd looks for /usr/local units.
inst DESTDIR="$TW_TMP/dest-local" && [ -f "$TW_TMP/dest-local/usr/local/lib/systemd/system/tokenward.service" ] &&
  grep -q '^ExecStart=/usr/local/sbin/tokenward ' "$TW_TMP/dest-local/usr/local/lib/systemd/system/tokenward.service" &&
  ok install_default_prefix || not_ok install_default_prefix "$(find "$TW_TMP/dest-local" -name tokenward.service)"

# verify ROOT UNIT: systemd-analyze verify offline; its output is in $TW_TMP/verify.out.
# It exits 0 on mere parse warnings, so the check is: exit 0 AND no output.
command -v systemd-analyze >/dev/null || { not_ok install_unit_verifies "systemd-analyze missing (make deps)"; exit 1; }
vroot() { # DIR: the install plus what the unit refers to on a real host
  cp -a "$DEST" "$1"
  cp -an /usr/lib/systemd/system/. "$1/usr/lib/systemd/system/"
  mkdir -p "$1/usr/bin" && cp /usr/bin/kill "$1/usr/bin/" && ln -sfn usr/bin "$1/bin"
}
verify() { systemd-analyze verify --root="$1" --man=no "$2" >"$TW_TMP/verify.out" 2>&1 && [ ! -s "$TW_TMP/verify.out" ]; }
vroot "$TW_TMP/vroot"
if verify "$TW_TMP/vroot" /usr/lib/systemd/system/tokenward.service; then ok install_unit_verifies
else not_ok install_unit_verifies "$(head -5 "$TW_TMP/verify.out")"; fi
# The check can fail: the same unit with one mistake in it.
sed 's/^Type=notify$/Type=notifyy/' "$TW_TMP/vroot/usr/lib/systemd/system/tokenward.service" \
  >"$TW_TMP/vroot/usr/lib/systemd/system/tokenward-bad.service"
if verify "$TW_TMP/vroot" /usr/lib/systemd/system/tokenward-bad.service; then
  not_ok install_verify_catches_mistakes "a bad Type= passed"
else ok install_verify_catches_mistakes; fi
grep -q '^Type=notify$' "$DEST/usr/lib/systemd/system/tokenward.service" &&
  grep -q '^CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_ADMIN CAP_SYS_RESOURCE' "$DEST/usr/lib/systemd/system/tokenward.service" &&
  ok install_unit_notify_caps || not_ok install_unit_notify_caps "Type or capabilities changed"

# The man page.
MAN=$DEST/usr/share/man/man8/tokenward.8
if LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN" >"$TW_TMP/man.txt" 2>"$TW_TMP/man.err" && [ ! -s "$TW_TMP/man.err" ] &&
   grep -q 'EXIT STATUS' "$TW_TMP/man.txt"; then
  ok man_renders_without_warnings
else
  not_ok man_renders_without_warnings "$(head -5 "$TW_TMP/man.err")"
fi
cmds=$("$TW" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }')
[ -n "$cmds" ] || not_ok man_covers_subcommands "no commands in --help"
gone=
for c in $cmds; do grep -q "^\.SS ${c//-/\\\\-}\$" "$MAN" || gone+=" $c"; done
[ -n "$cmds" ] && [ -z "$gone" ] && ok man_covers_subcommands || not_ok man_covers_subcommands "not in the man page:$gone"
exits=$(awk '/^\.SH EXIT STATUS/ { on = 1; next } /^\.SH/ { on = 0 } on && /^\.B [0-9]$/ { print $2 }' "$MAN" | tr '\n' ' ')
[ "$exits" = "0 1 2 " ] && ok man_exit_codes || not_ok man_exit_codes "exit codes listed: '$exits'"
