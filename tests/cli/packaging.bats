#!/usr/bin/env bats
# Installing: make install into a DESTDIR with PREFIX=/usr, a program built
# against the installed tree through pkg-config, make uninstall, the shared
# library's soname, and the bash completion the install puts in place.

load helpers

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)

setup_file() {
    # one install for the whole file (make would rebuild nothing after
    # `make test`'s own build)
    export DEST="$BATS_FILE_TMPDIR/root"
    ( unset MAKEFLAGS MAKELEVEL MFLAGS
      make -C "$TOP" --no-print-directory -s install DESTDIR="$DEST" PREFIX=/usr \
        >"$BATS_FILE_TMPDIR/install.log" 2>&1 ) || {
        cat "$BATS_FILE_TMPDIR/install.log" >&2; return 1; }
}

tools() { # the tools the tree builds: tools/wr-*.c
    local f
    for f in "$TOP"/tools/wr-*.c; do f=${f##*/}; echo "${f%.c}"; done
}

@test "make install PREFIX=/usr DESTDIR=...: tools, library, header, pc file under DESTDIR/usr" {
    for t in $(tools); do
        [ -x "$DEST/usr/bin/$t" ] || { echo "missing $t"; false; }
    done
    [ -f "$DEST/usr/include/wr.h" ]
    [ -f "$DEST/usr/lib/libwr.a" ]
    # the version is wr.h's; its major is the soname's (1 since
    # wr_digest_hex took the digest's kind: 0.1.0 programs must not load it)
    version=$(sed -n 's/^#define WR_VERSION_STRING "\(.*\)"/\1/p' "$TOP/lib/wr.h")
    [ "${version%%.*}" -ge 1 ]
    [ -f "$DEST/usr/lib/libwr.so.$version" ]
    [ "$(readlink "$DEST/usr/lib/libwr.so")" = "libwr.so.${version%%.*}" ]
    [ "$(readlink "$DEST/usr/lib/libwr.so.${version%%.*}")" = "libwr.so.$version" ]
    [ ! -e "$DEST/usr/lib/libwr.so.0" ]
    run readelf -d "$DEST/usr/lib/libwr.so"
    [[ $output == *"Library soname: [libwr.so.${version%%.*}]"* ]]
    grep -qx "Version: $version" "$DEST/usr/lib/pkgconfig/wrtools.pc"
    grep -qx 'prefix=/usr' "$DEST/usr/lib/pkgconfig/wrtools.pc"
    grep -qx 'Requires.private: libbson-1.0 zlib libxxhash' "$DEST/usr/lib/pkgconfig/wrtools.pc"
    # nothing outside DESTDIR/usr
    [ "$(ls "$DEST")" = usr ]
}

@test "a program builds against the installed tree through pkg-config and runs" {
    # A sysroot: the installed tree, plus the libbson, zlib and libxxhash it requires
    # (from this system, as a build root holding libbson-dev would have)
    cp -a "$DEST" "$TMP/sysroot"
    for d in $(pkg-config --cflags-only-I libbson-1.0 | sed 's/-I//g') \
             $(pkg-config --variable=libdir libbson-1.0 zlib libxxhash); do
        mkdir -p "$TMP/sysroot$(dirname "$d")"
        [ -e "$TMP/sysroot$d" ] || ln -s "$d" "$TMP/sysroot$d"
    done
    export PKG_CONFIG_PATH="$TMP/sysroot/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$TMP/sysroot"
    run pkg-config --cflags --libs wrtools
    [ "$status" -eq 0 ]
    [[ $output == *"-I$TMP/sysroot/usr/include"* ]]
    [[ $output == *"-lwr"* ]]
    [[ $output == *bson* ]] # wr.h includes <bson/bson.h>
    # shared
    cc -Wall -Werror "$TOP/examples/count.c" $(pkg-config --cflags --libs wrtools) -o "$TMP/count"
    "$DEST/usr/bin/wr-load" -q "$TMP/db" people "$TOP/testdata/people.jsonl"
    run env LD_LIBRARY_PATH="$TMP/sysroot/usr/lib" "$TMP/count" "$TMP/db"
    [ "$status" -eq 0 ]
    n=$(grep -c . "$TOP/testdata/people.jsonl")
    [[ $output == *"people: $n documents"* ]]
    run env LD_LIBRARY_PATH="$TMP/sysroot/usr/lib" ldd "$TMP/count"
    so=libwr.so.$(sed -n 's/^#define WR_VERSION_STRING "\([0-9]*\)\..*/\1/p' "$TOP/lib/wr.h")
    [[ $output == *"$so => $TMP/sysroot/usr/lib/$so"* ]]
    # static: libwr.a and the private requirements
    cc "$TOP/examples/count.c" $(pkg-config --cflags wrtools) \
        $(pkg-config --static --libs wrtools | sed 's/-lwr /-l:libwr.a /') -o "$TMP/count-static"
    run ldd "$TMP/count-static"
    [[ $output != *libwr* ]]
    run "$TMP/count-static" "$TMP/db"
    [ "$status" -eq 0 ]
    [[ $output == *"people: $n documents"* ]]
}

@test "make uninstall removes every file make install put there" {
    ( unset MAKEFLAGS MAKELEVEL MFLAGS
      make -C "$TOP" --no-print-directory -s uninstall DESTDIR="$DEST" PREFIX=/usr )
    run find "$DEST" -not -type d
    [ "$status" -eq 0 ]
    [ -z "$output" ] || { echo "left: $output"; false; }
    # and installs again for the tests after this one
    ( unset MAKEFLAGS MAKELEVEL MFLAGS
      make -C "$TOP" --no-print-directory -s install DESTDIR="$DEST" PREFIX=/usr )
}

@test "make install honours prefix, bindir, libdir, includedir, mandir" {
    ( unset MAKEFLAGS MAKELEVEL MFLAGS
      make -C "$TOP" --no-print-directory -s install DESTDIR="$TMP/r" prefix=/opt/wr \
        bindir=/opt/b libdir=/opt/l includedir=/opt/i mandir=/opt/m )
    [ -x "$TMP/r/opt/b/wr-verify" ]
    [ -f "$TMP/r/opt/l/libwr.so" ]
    [ -f "$TMP/r/opt/i/wr.h" ]
    grep -qx 'libdir=/opt/l' "$TMP/r/opt/l/pkgconfig/wrtools.pc"
    grep -qx 'includedir=/opt/i' "$TMP/r/opt/l/pkgconfig/wrtools.pc"
}

@test "make and make install never install packages; make deps, demo, test and docs do" {
    # make -n shows what a target would run
    # (a bare "! cmd" never fails a bats test: "if ...; then exit 1")
    ( unset MAKEFLAGS MAKELEVEL MFLAGS
      cd "$TOP"
      if make -n all | grep -q apt-get; then exit 1; fi
      if make -n install DESTDIR="$TMP/x" | grep -q apt-get; then exit 1; fi
      make -n deps | grep -q apt-get
      make -n demo | grep -q 'apt-get'
      make -n test | grep -q 'apt-get'
      # chromium only for make docs (the PNG of the block map)
      make -n docs | grep -q 'chromium'
      if make -n test | grep -q 'chromium'; then exit 1; fi
      if make -n demo | grep -q 'chromium'; then exit 1; fi )
}

@test "build outputs go under build/ only" {
    run git -C "$TOP" status --porcelain --ignored
    [ "$status" -eq 0 ]
    # what is ignored is build/ and nothing else the build writes
    bad=$(printf '%s\n' "$output" | grep '^!!' | grep -v -e '^!! build/' \
          -e '^!! bench/out/' -e '^!! fuzz/out/' || true)
    [ -z "$bad" ] || { echo "$bad"; false; }
    [ ! -e "$TOP/lib/libwr.a" ]
}

# complete LINE: COMPREPLY of the installed completion for LINE (the word
# being completed is the last one, possibly empty)
complete_line() {
    PATH="$DEST/usr/bin:$PATH" bash -c '
        source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        _wrtools
        printf "%s\n" "${COMPREPLY[@]}"' _ "$DEST/usr/share/bash-completion/completions/$1" "$@"
}

@test "bash completion: installed for every tool where bash-completion looks; completes options" {
    dir=$(pkg-config --variable=completionsdir bash-completion)
    [ "$dir" = /usr/share/bash-completion/completions ]
    for t in $(tools); do
        [ -f "$DEST$dir/$t" ] || { echo "no completion for $t"; false; }
        run complete_line "$t" --hel
        [ "$output" = --help ] || { echo "$t: $output"; false; }
    done
    run complete_line wr-load --
    [[ $output == *--index* && $output == *--skip-bad* && $output == *--json* ]]
    run complete_line wr-verify --checkpoint ""
    [ "$output" = "$(printf 'latest\nprevious')" ]
}

@test "bash completion: directories for DIR arguments, files for PATH" {
    mkdir -p "$TMP/w/dbdir"
    touch "$TMP/w/afile"
    cd "$TMP/w"
    run complete_line wr-migrate ""
    [ "$output" = dbdir ]
    run complete_line wr-migrate --backup-dir ""
    [ "$output" = dbdir ]
    run complete_line wr-load dbdir people ""
    [[ $output == *afile* ]]
    run complete_line wr-verify ""
    [[ $output == *afile* && $output == *dbdir* ]]
}

@test "bash completion: loading a tool's file registers that tool (what bash-completion does on first use)" {
    for t in $(tools); do
        run bash -c 'source "$1"; complete -p "$2"' _ \
            "$DEST/usr/share/bash-completion/completions/$t" "$t"
        [ "$status" -eq 0 ]
        [[ $output == *"-F _wrtools"*"$t" ]] || { echo "$t: $output"; false; }
    done
}
