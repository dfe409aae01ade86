# Helpers the bench scripts share: print a figure next to its target.

ratio() { # name measured target unit
  awk -v n="$1" -v m="$2" -v t="$3" -v u="$4" 'BEGIN {
    r = m / t; printf "  %-34s %12.1f %-6s target %10.1f  => %5.2fx %s\n", n, m, u, t, r, (r >= 1 ? "ok" : "BELOW TARGET") }'
}

mem_ratio() { # name measured_mb limit_mb
  awk -v n="$1" -v m="$2" -v t="$3" 'BEGIN {
    printf "  %-34s %12.1f %-6s limit  %10.1f  => %s\n", n, m, "MB", t, (m <= t ? "ok" : "OVER LIMIT") }'
}

time_ratio() { # name measured limit unit  (lower is better)
  awk -v n="$1" -v m="$2" -v t="$3" -v u="$4" 'BEGIN {
    r = t / m; printf "  %-34s %12.1f %-6s limit  %10.1f  => %5.2fx under %s\n", n, m, u, t, r, (m <= t ? "ok" : "OVER LIMIT") }'
}

cache_dir() { # rift's cache directory, as rift-control's cache_dir() chooses it
  if [[ -n "${RIFT_CACHE:-}" ]]; then echo "$RIFT_CACHE"
  elif [[ "$(id -u)" == 0 ]]; then echo /var/cache/rift
  elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then echo "$XDG_CACHE_HOME/rift"
  elif [[ -n "${HOME:-}" ]]; then echo "$HOME/.cache/rift"
  else echo /tmp/rift-cache; fi
}
