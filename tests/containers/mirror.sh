# shellcheck shell=bash
# Reads the Debian mirror URLs from this machine's apt sources (one-line .list
# and deb822 .sources files), so nothing in the repo names a mirror host.

_protea_apt_uris() {  # prints "URI SUITE..." for every enabled deb source
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } print $i, $(i+1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; suites = ""; deb = 0; on = 1
        for (n = 1; n <= NF; n++) {
          if ($n ~ /^Types:/ && $n ~ /[ \t]deb([ \t]|$)/) deb = 1
          if ($n ~ /^Enabled:[ \t]*no/) on = 0
          if ($n ~ /^URIs:/) { split($n, a, /[ \t]+/); uri = a[2] }
          if ($n ~ /^Suites:/) { suites = $n; sub(/^Suites:[ \t]*/, "", suites) }
        }
        if (deb && on && uri != "") print uri, suites }' "$f"
  done
}

# The main archive: a source carrying the plain release suite (not -security).
protea_debian_mirror() {
  _protea_apt_uris | awk '{ for (i = 2; i <= NF; i++) if ($i == "bookworm") { sub(/\/$/, "", $1); print $1; exit } }'
}

protea_debian_security_mirror() {
  _protea_apt_uris | awk '{ for (i = 2; i <= NF; i++) if ($i == "bookworm-security") { sub(/\/$/, "", $1); print $1; exit } }'
}
