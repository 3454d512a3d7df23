#!/usr/bin/env bash
# Hostile and broken files around tokenward's own: a FIFO where a file is
# expected, a directory another user can write, links that user plants, a
# report write that fails half way, and files that are not a tokenward
# ledger given to commands that only read. Every command runs under
# `timeout`: a hang shows as exit 124 and fails the case, never the suite.
. "$(dirname "$0")/../live/lib.sh"
. "$(dirname "$0")/ledger_lib.sh"
T=20        # seconds one command may take; each should take milliseconds
NOBODY=65534
mkdir -p "$TW_TMP/state"

# run_rc NAME WANT CMD...: expect_rc under the deadline.
run_rc() { local name=$1 want=$2; shift 2; expect_rc "$name" "$want" timeout "$T" "$@" </dev/null; }
# says NAME TEXT: the last command's stderr holds TEXT.
says() { grep -qF -- "$2" "$TW_TMP/err" && ok "$1" || not_ok "$1" "stderr lacks '$2': $(head -c 300 "$TW_TMP/err")"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
# run_refused NAME TEXT ARGS...: `tokenward run ARGS` exits 2 saying TEXT.
# run checks root and kernel BTF before its files; without BTF it stops
# there, and the case says it was skipped rather than pass for that reason.
run_refused() {
  local name=$1 text=$2; shift 2
  if [ ! -r /sys/kernel/btf/vmlinux ]; then ok "$name # skip: no kernel BTF, run stops before its files"; return; fi
  run_rc "$name" 2 "$TW" run "$@" && says "${name}_says_why" "$text"
}
# as_nobody CMD...: run as an unprivileged second user.
as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"; }
# copy_ledger DST [PRAGMA...]: a consistent copy of the test ledger, in
# rollback-journal mode, then the pragmas.
copy_ledger() {
  python3 - "$LEDGER" "$@" <<'PY'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.execute("PRAGMA journal_mode=DELETE")
for p in sys.argv[3:]:
    dst.execute("PRAGMA " + p)
dst.close()
PY
}
# The second user must reach into TW_TMP (mktemp made it 0700).
chmod 755 "$TW_TMP"

# ---- 5. a FIFO never hangs a command -------------------------------------
mkfifo "$TW_TMP/fifo"
run_rc fifo_scan_named_refused 2 "$TW" scan "$TW_TMP/fifo"
says fifo_scan_named_says_fifo "fifo: error: not a regular file (a FIFO); refusing it"
mkdir "$TW_TMP/tree"; mkfifo "$TW_TMP/tree/pipe"; echo "nothing here" >"$TW_TMP/tree/a.txt"
run_rc fifo_scan_walk_skipped 0 "$TW" scan --stats "$TW_TMP/tree"
says fifo_scan_walk_says_skipped "pipe: not a regular file (a FIFO), skipped"
says fifo_scan_walk_counts_skipped "1 skipped"
run_rc fifo_scan_char_device_refused 2 "$TW" scan /dev/zero
says fifo_scan_char_device_says_so "/dev/zero: error: not a regular file (a character device)"
mkdir "$TW_TMP/rules"; mkfifo "$TW_TMP/rules/x.yaml"
run_rc fifo_rules_dir_refused 2 "$TW" scan --rules "$TW_TMP/rules" "$TW_TMP/tree"
says fifo_rules_dir_names_file "rules/x.yaml is a FIFO"
run_rc fifo_rules_list_refused 2 "$TW" rules list --rules "$TW_TMP/rules"
run_rc fifo_rules_corpus_refused 2 "$TW" rules corpus "$TW_TMP/fifo"
run_rc fifo_config_revoke_queue 2 "$TW" revoke-queue --config "$TW_TMP/fifo" --db "$TW_TMP/state/q.db" status
says fifo_config_names_file "fifo is a FIFO, not a regular file"
ctok=$("$TW" mint --task FC --aud a.example:1 2>/dev/null); RAW_TOKENS+=("$ctok")
timeout "$T" "$TW" ledger complete --task FC --config "$TW_TMP/fifo" >"$TW_TMP/out" 2>"$TW_TMP/err" </dev/null; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && ok fifo_config_ledger_complete || not_ok fifo_config_ledger_complete "exit $rc"
run_rc fifo_config_run 2 "$TW" run --config "$TW_TMP/fifo" --events /dev/null --state-dir "$TW_TMP/state"
cat >"$TW_TMP/secret.yaml" <<EOF
issuers:
  idp:
    type: rfc7009
    revocation_endpoint: http://127.0.0.1:1/revoke
    client_id: tokenward
    client_secret_file: $TW_TMP/fifo
EOF
run_rc fifo_client_secret_file 2 "$TW" revoke-queue --config "$TW_TMP/secret.yaml" --db "$TW_TMP/state/q.db" status
says fifo_client_secret_says_fifo "fifo is a FIFO"
mkdir "$TW_TMP/fst"; mkfifo "$TW_TMP/fst/status.json"
run_rc fifo_status_json 2 "$TW" status --state-dir "$TW_TMP/fst"
says fifo_status_names_file "status.json is a FIFO"
mkfifo "$TW_TMP/state/seal.key"
run_rc fifo_seal_key 2 sh -c "printf '%s' '$(opaque_token)' | '$TW' ledger register --issuer corp --aud a.example:1 --ttl 60"
says fifo_seal_key_says_fifo "seal.key is a FIFO"
rm -f "$TW_TMP/state/seal.key" "$TW_TMP/state/q.db"*

# ---- 6. directories others can write, links they plant ---------------------
echo precious >"$TW_TMP/victim"; victim=$(sum "$TW_TMP/victim")
victim_intact() { [ "$(sum "$TW_TMP/victim")" = "$victim" ] && [ ! -L "$TW_TMP/victim" ] && ok "$1" || not_ok "$1" "victim file changed: $(head -c 200 "$TW_TMP/victim")"; }

# A ledger in a directory that became world-writable: the other user
# plants revoked.list -> victim; every command refuses the directory.
mkdir -m 700 "$TW_TMP/shared"
SH=$TW_TMP/shared/ledger.db
stok=$("$TW" mint --ledger "$SH" --task S --aud a.example:1 2>/dev/null); RAW_TOKENS+=("$stok")
sid=$("$TW" ledger list --ledger "$SH" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
chmod 777 "$TW_TMP/shared"; chmod 666 "$TW_TMP/victim"
as_nobody ln -s "$TW_TMP/victim" "$TW_TMP/shared/revoked.list"
run_rc shared_dir_revoke_refused 2 "$TW" ledger revoke "$sid" --ledger "$SH"
says shared_dir_says_writable "ledger directory $TW_TMP/shared is writable by others (mode 0777)"
run_rc shared_dir_complete_refused 2 "$TW" ledger complete --task S --ledger "$SH"
victim_intact shared_dir_victim_not_appended
run_rc shared_dir_mint_refused 2 "$TW" mint --ledger "$SH" --task S2 --aud a.example:1
run_rc shared_dir_list_refused 2 "$TW" ledger list --ledger "$SH"
run_rc shared_dir_show_refused 2 "$TW" ledger show "$sid" --ledger "$SH"
run_rc shared_dir_report_refused 2 "$TW" report --ledger "$SH"
run_rc shared_dir_scan_ledger_refused 2 "$TW" scan --ledger "$SH" "$TW_TMP/tree"
run_rc shared_dir_revoke_queue_refused 2 "$TW" revoke-queue --db "$SH" list
run_refused shared_dir_run_ledger_refused "ledger directory $TW_TMP/shared is writable by others" \
    --ledger "$SH" --events /dev/null --state-dir "$TW_TMP/state"
chmod 1777 "$TW_TMP/shared"   # sticky does not make the directory itself private
run_rc sticky_dir_refused 2 "$TW" ledger revoke "$sid" --ledger "$SH"
victim_intact sticky_dir_victim_not_appended
chmod 770 "$TW_TMP/shared"
run_rc group_dir_refused 2 "$TW" ledger list --ledger "$SH"
says group_dir_says_group "is writable by its group (mode 0770)"
# A directory that belongs to the other user.
mkdir "$TW_TMP/theirs"; chown $NOBODY:$NOBODY "$TW_TMP/theirs"
run_rc foreign_owner_dir_refused 2 "$TW" mint --ledger "$TW_TMP/theirs/ledger.db" --task F --aud a.example:1
says foreign_owner_dir_says_uid "belongs to uid $NOBODY"
[ -z "$(ls -A "$TW_TMP/theirs")" ] && ok foreign_owner_dir_untouched || not_ok foreign_owner_dir_untouched "$(ls -A "$TW_TMP/theirs")"
# The state directory: a status.json forged by the other user is not shown.
mkdir -m 777 "$TW_TMP/wstate"; chmod 777 "$TW_TMP/wstate"
as_nobody sh -c "echo '{\"version\":1,\"pid\":1,\"running\":true,\"updated\":\"forged\"}' >'$TW_TMP/wstate/status.json'"
run_rc state_dir_status_refused 2 "$TW" status --state-dir "$TW_TMP/wstate"
says state_dir_status_says_writable "state directory $TW_TMP/wstate is writable by others"
run_refused state_dir_run_refused "state directory $TW_TMP/wstate is writable by others" \
    --state-dir "$TW_TMP/wstate" --events /dev/null --ledger "$LEDGER"
# A ledger path that is itself a link, or passes through one.
mkdir -m 700 "$TW_TMP/real"
"$TW" mint --ledger "$TW_TMP/real/ledger.db" --task L --aud a.example:1 >/dev/null 2>&1
ln -s "$TW_TMP/real/ledger.db" "$TW_TMP/state/link.db"
run_rc ledger_symlink_refused 2 "$TW" mint --ledger "$TW_TMP/state/link.db" --task L --aud a.example:1
says ledger_symlink_says_link "is a symbolic link"
# The events file given on the command line: never written through a link.
real=$(sum "$TW_TMP/real/ledger.db")
run_refused events_symlink_refused "link.db is a symbolic link" --state-dir "$TW_TMP/state" --ledger "$LEDGER" --events "$TW_TMP/state/link.db"
[ "$(sum "$TW_TMP/real/ledger.db")" = "$real" ] && ok events_symlink_target_intact || not_ok events_symlink_target_intact "appended to"
ln -s "$TW_TMP/victim" "$TW_TMP/evlink"
run_refused events_symlink_to_victim_refused "evlink is a symbolic link" --state-dir "$TW_TMP/state" --ledger "$LEDGER" --events "$TW_TMP/evlink"
victim_intact events_victim_intact
# revoked.list as a link in a private directory (planted by root itself
# here): the built-in issuer does not write through it either.
mtok=$("$TW" mint --task R --aud a.example:1 2>/dev/null); RAW_TOKENS+=("$mtok")
ln -s "$TW_TMP/victim" "$TW_TMP/state/revoked.list"
timeout "$T" "$TW" ledger complete --task R >"$TW_TMP/out" 2>"$TW_TMP/err" </dev/null; rc=$?
victim_intact revoked_list_link_not_followed
[ $rc -ne 0 ] && [ $rc -ne 124 ] && ok revoked_list_link_fails_revocation || not_ok revoked_list_link_fails_revocation "exit $rc"
rm -f "$TW_TMP/state/revoked.list"
# The ready file of revoke-queue serve: never created through a link.
run_rc ready_file_link_refused 1 "$TW" revoke-queue --db "$TW_TMP/state/q.db" serve --ready-file "$TW_TMP/evlink" --exit-after 30
victim_intact ready_file_victim_intact
[ -L "$TW_TMP/evlink" ] && ok ready_file_link_left || not_ok ready_file_link_left "the link was replaced"

# ---- 7. report -o replaces the file only once the new one is whole ---------
for i in 1 2 3 4 5 6; do
  t=$("$TW" mint --task "rep$i" --aud "https://api$i.example.test" 2>/dev/null); RAW_TOKENS+=("$t")
done
run_rc report_written 0 "$TW" report --all --format md -o "$TW_TMP/report.md"
before=$(sum "$TW_TMP/report.md")
[ "$(stat -c %s "$TW_TMP/report.md")" -gt 2048 ] && ok report_big_enough || not_ok report_big_enough "$(stat -c %s "$TW_TMP/report.md") bytes"
# A file size limit of 1 KiB makes the write fail half way, as a full disk
# would. (The ledger copy is in rollback-journal mode: a WAL reader would
# need to grow the -shm file, which the limit forbids too.)
copy_ledger "$TW_TMP/rep.db"
( trap '' XFSZ; ulimit -f 1; exec timeout "$T" "$TW" report --ledger "$TW_TMP/rep.db" --all --format json -o "$TW_TMP/report.md" ) \
    >"$TW_TMP/out" 2>"$TW_TMP/err"; rc=$?
[ $rc -eq 1 ] && ok report_failed_write_exit_1 || not_ok report_failed_write_exit_1 "exit $rc: $(cat "$TW_TMP/err")"
[ "$(sum "$TW_TMP/report.md")" = "$before" ] && ok report_failed_write_keeps_previous || not_ok report_failed_write_keeps_previous "previous report changed ($(stat -c %s "$TW_TMP/report.md") bytes)"
says report_failed_write_says_kept "left as it was"
[ -z "$(find "$TW_TMP" -maxdepth 1 -name '.report.md.*')" ] && ok report_failed_write_no_temp_left || not_ok report_failed_write_no_temp_left "$(ls -a "$TW_TMP")"
# The same on a full tmpfs, where mounting one is allowed.
mkdir "$TW_TMP/small"
trap 'umount -l "$TW_TMP/small" 2>/dev/null; rm -rf "$TW_TMP"' EXIT   # a mount outlives the test otherwise
if mount -t tmpfs -o size=64k tmpfs "$TW_TMP/small" 2>/dev/null; then
  "$TW" report --all -o "$TW_TMP/small/r.md" 2>/dev/null; before=$(sum "$TW_TMP/small/r.md")
  head -c 1M /dev/zero >"$TW_TMP/small/fill" 2>/dev/null
  run_rc report_full_disk_exit_1 1 "$TW" report --all --format html -o "$TW_TMP/small/r.md"
  [ "$(sum "$TW_TMP/small/r.md")" = "$before" ] && ok report_full_disk_keeps_previous || not_ok report_full_disk_keeps_previous "changed"
  # Something else on the machine may be looking in for a moment.
  tw_poll umount "$TW_TMP/small" 2>/dev/null || umount -l "$TW_TMP/small"
else
  ok "report_full_disk_keeps_previous # skip: cannot mount a tmpfs here"
fi
run_rc report_symlink_refused 2 "$TW" report --all -o "$TW_TMP/evlink"
victim_intact report_symlink_victim_intact
run_rc report_dir_refused 2 "$TW" report --all -o "$TW_TMP/tree"

# ---- 8. read-only commands change nothing they open ------------------------
python3 - "$TW_TMP/other.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.execute("CREATE TABLE notes(a TEXT)"); db.execute("INSERT INTO notes VALUES ('mine')"); db.commit()
PY
other=$(sum "$TW_TMP/other.sqlite")
unchanged() { [ "$(sum "$TW_TMP/other.sqlite")" = "$other" ] && [ ! -e "$TW_TMP/other.sqlite-wal" ] && ok "$1" || not_ok "$1" "other.sqlite changed"; }
foreign() { # NAME CMD...: refused, says why, other.sqlite as it was
  local name=$1; shift
  run_rc "foreign_db_${name}_refused" 2 "$TW" "$@"
  says "foreign_db_${name}_says_not_ledger" "not a tokenward ledger"
  unchanged "foreign_db_${name}_unchanged"
}
foreign scan scan --ledger "$TW_TMP/other.sqlite" "$TW_TMP/tree"
foreign report report --ledger "$TW_TMP/other.sqlite"
foreign list ledger list --ledger "$TW_TMP/other.sqlite"
foreign show ledger show tk-000000000000 --ledger "$TW_TMP/other.sqlite"
foreign mint mint --ledger "$TW_TMP/other.sqlite" --task O --aud a.example:1
foreign queue_status revoke-queue --db "$TW_TMP/other.sqlite" status
foreign queue_list revoke-queue --db "$TW_TMP/other.sqlite" list
run_rc missing_ledger_scan 2 "$TW" scan --ledger "$TW_TMP/state/missing.db" "$TW_TMP/tree"
[ ! -e "$TW_TMP/state/missing.db" ] && ok missing_ledger_scan_creates_nothing || not_ok missing_ledger_scan_creates_nothing "created"
# A ledger of a newer tokenward, in rollback-journal mode: left as is,
# which includes its journal mode.
copy_ledger "$TW_TMP/newer.db" user_version=99
newer=$(sum "$TW_TMP/newer.db")
newer() { # NAME CMD...: refused, says why, newer.db as it was (journal mode included)
  local name=$1; shift
  run_rc "newer_schema_${name}_refused" 2 "$TW" "$@"
  says "newer_schema_${name}_says_newer" "newer than this tokenward"
  [ "$(sum "$TW_TMP/newer.db")" = "$newer" ] && [ ! -e "$TW_TMP/newer.db-wal" ] && ok "newer_schema_${name}_unchanged" || not_ok "newer_schema_${name}_unchanged" "changed"
}
newer scan scan --ledger "$TW_TMP/newer.db" "$TW_TMP/tree"
newer mint mint --ledger "$TW_TMP/newer.db" --task N --aud a.example:1
newer list ledger list --ledger "$TW_TMP/newer.db"
newer queue_status revoke-queue --db "$TW_TMP/newer.db" status
# A real ledger: scan --ledger finds the managed token and writes nothing.
ltok=$("$TW" mint --task leak --aud a.example:1 2>/dev/null); RAW_TOKENS+=("$ltok")
echo "key $ltok" >"$TW_TMP/tree/leak.txt"
copy_ledger "$TW_TMP/ro.db"
ro=$(sum "$TW_TMP/ro.db")
run_rc scan_ledger_finds_managed 1 "$TW" scan --ledger "$TW_TMP/ro.db" "$TW_TMP/tree/leak.txt"
grep -q " managed tk-" "$TW_TMP/out" && ok scan_ledger_says_managed || not_ok scan_ledger_says_managed "$(cat "$TW_TMP/out")"
[ "$(sum "$TW_TMP/ro.db")" = "$ro" ] && [ ! -e "$TW_TMP/ro.db-wal" ] && ok scan_ledger_read_only || not_ok scan_ledger_read_only "ledger changed"
rm -f "$TW_TMP/tree/leak.txt"   # the one raw token on disk, on purpose
run_rc report_ledger_read_only 0 "$TW" report --ledger "$TW_TMP/ro.db" --all
[ "$(sum "$TW_TMP/ro.db")" = "$ro" ] && ok report_ledger_unchanged || not_ok report_ledger_unchanged "ledger changed"

assert_no_raw_tokens
