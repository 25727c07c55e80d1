# shellcheck shell=bash
# Sourced by images/build-qemu-kit and images/build-guest-kit: a private apt
# configuration for one Debian suite (e.g. bookworm-backports), so that the
# kits can fetch packages from a suite that the host's apt sources do not
# have, without changing the host's apt configuration. Everything apt writes
# lives under one directory: its own sources.list, package lists and cache.
# The host's dpkg status and apt.conf.d are read as usual (never written).
#
#   source images/apt-suite.sh
#   apt_suite_init "$work/apt" bookworm-backports   # sets apt_suite_opts
#   apt_suite_update                                # refreshes stale lists
#   apt-cache "${apt_suite_opts[@]}" show linux-image-amd64
#
# Expects the caller's log and die functions.

# Package lists older than this are refreshed (one small download for a
# backports suite, ~1 s); newer ones are used as they are, so an up-to-date
# kit costs no network.
readonly kAptSuiteListsMaxAgeS=$((24 * 3600))
readonly kAptSuiteKeyring=/usr/share/keyrings/debian-archive-keyring.gpg
readonly kAptSuiteDefaultMirror=http://deb.debian.org/debian

# The Debian archive the host already uses for SUITE's base release
# (bookworm for bookworm-backports), so that a host with a local mirror keeps
# using it; CPUHP_DEBIAN_MIRROR overrides it.
apt_suite_mirror() {
  local base=${1%%-*} uri
  if [[ -n ${CPUHP_DEBIAN_MIRROR:-} ]]; then
    echo "$CPUHP_DEBIAN_MIRROR"
    return
  fi
  # shellcheck disable=SC2016 # $(...) are apt's format fields
  uri=$(apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 'Created-By: Packages' \
          2>/dev/null | awk -v r="$base" '$1 == r { print $2; exit }')
  echo "${uri:-$kAptSuiteDefaultMirror}"
}

# apt_suite_init DIR SUITE: writes DIR/sources.list for SUITE (main) and sets
# apt_suite_opts, the options that point apt-get and apt-cache at DIR only.
apt_suite_init() {
  apt_suite_dir=$1
  apt_suite_name=$2
  [[ $apt_suite_name =~ ^[a-z][a-z0-9-]*$ ]] || die "not a Debian suite name: $apt_suite_name"
  [[ -r $kAptSuiteKeyring ]] ||
    die "$kAptSuiteKeyring is missing (package debian-archive-keyring)"
  mkdir -p "$apt_suite_dir"/{lists/partial,cache/archives/partial,sources.list.d}
  local mirror line=
  # The mirror is looked up once per directory (apt-get indextargets reads
  # all of the host's lists: ~2 s), unless CPUHP_DEBIAN_MIRROR names one.
  [[ ! -r $apt_suite_dir/sources.list ]] || line=$(<"$apt_suite_dir/sources.list")
  if [[ -n ${CPUHP_DEBIAN_MIRROR:-} || $line != *" $apt_suite_name main" ]]; then
    mirror=$(apt_suite_mirror "$apt_suite_name")
    line="deb [signed-by=$kAptSuiteKeyring] ${mirror%/} $apt_suite_name main"
  fi
  # Rewritten only when it changes, so that the lists' age stays meaningful.
  if [[ ! -r $apt_suite_dir/sources.list || $(<"$apt_suite_dir/sources.list") != "$line" ]]; then
    echo "$line" >"$apt_suite_dir/sources.list"
    rm -f "$apt_suite_dir/lists/"*_Packages* "$apt_suite_dir/lists/"*Release*
  fi
  apt_suite_opts=(
    -o "Dir::Etc::SourceList=$apt_suite_dir/sources.list"
    -o "Dir::Etc::SourceParts=$apt_suite_dir/sources.list.d"
    -o "Dir::State::Lists=$apt_suite_dir/lists"
    -o "Dir::Cache=$apt_suite_dir/cache"
  )
  # As root, apt drops to _apt for downloads and warns that _apt cannot
  # write our directories; there is nothing to gain from that sandbox here.
  [[ $EUID -ne 0 ]] || apt_suite_opts+=(-o APT::Sandbox::User=root)
}

# apt_suite_have_lists: whether the private lists hold a Packages index.
apt_suite_have_lists() {
  compgen -G "$apt_suite_dir/lists/*_Packages*" >/dev/null
}

# apt_suite_update [force]: runs apt-get update on the private configuration
# when its lists are missing, older than kAptSuiteListsMaxAgeS, or when
# forced. An update that fails with lists already there only warns (the kit
# is then built from the lists it has).
apt_suite_update() {
  local force=${1:-} release age apt_out
  release=$(compgen -G "$apt_suite_dir/lists/*_InRelease" | head -n 1 || true)
  if [[ -z $force && -n $release ]] && apt_suite_have_lists; then
    age=$(($(date +%s) - $(stat -c %Y "$release")))
    ((age > kAptSuiteListsMaxAgeS)) || return 0
  fi
  log "apt-get update for $apt_suite_name (private lists in $apt_suite_dir) ..."
  if apt_out=$(apt-get -q "${apt_suite_opts[@]}" update 2>&1) &&
     ! grep -q '^[WE]:' <<<"$apt_out"; then
    # apt keeps InRelease's mtime from the server: mark when we looked.
    touch "$apt_suite_dir/lists/"*_InRelease 2>/dev/null || true
    return 0
  fi
  if apt_suite_have_lists; then
    log "warning: apt-get update for $apt_suite_name failed, using the lists from" \
        "$(date -r "$release" '+%F %T'): $(grep -m1 '^[WE]:' <<<"$apt_out")"
    return 0
  fi
  return 1
}
