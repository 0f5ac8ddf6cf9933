# Helpers shared by the benchmark scripts (sourced, not run). They expect SERVER_PID to hold the
# pid of the server under test, or to be empty.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Reads the targets named on the command line into `targets`: all of ALL_TARGETS when none is
# named; EXTRA_TARGETS are accepted too but not run by default. `-h` prints the script's header.
# Then checks that the tools every benchmark needs are there.
select_targets() {
  targets=("$@")
  if [[ ${#targets[@]} -eq 0 ]]; then
    targets=("${ALL_TARGETS[@]}")
  fi
  local t known=" ${ALL_TARGETS[*]} ${EXTRA_TARGETS[*]:-} "
  for t in "${targets[@]}"; do
    case "$t" in
      -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    esac
    [[ "$known" == *" $t "* ]] ||
      die "unknown target '$t' (choose from: ${ALL_TARGETS[*]}${EXTRA_TARGETS:+ ${EXTRA_TARGETS[*]}})"
  done
  for t in cargo curl; do
    command -v "$t" >/dev/null || die "$t is required"
  done
}

# Whether target $1 was asked for.
wants() {
  local t
  for t in "${targets[@]}"; do [[ "$t" == "$1" ]] && return 0; done
  return 1
}

# Stops the server under test: SIGTERM, then SIGKILL after 10 s.
stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

# A free TCP port on 127.0.0.1 (nothing answers on it).
free_port() {
  local port i
  for ((i = 0; i < 200; i++)); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "found no free port"
}

# wait_ready URL MODE: MODE "any" accepts any HTTP answer, "ok" only 200. On failure, the reason
# is in NOT_READY.
NOT_READY=""
wait_ready() {
  local url="$1" mode="$2" code status i
  for ((i = 0; i < 600; i++)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      status=0
      wait "$SERVER_PID" 2>/dev/null || status=$?
      SERVER_PID=""
      NOT_READY="the server exited with status $status before it was ready"
      return 1
    fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)"
    if [[ "$mode" == any && "$code" != 000 ]] || [[ "$code" == 200 ]]; then
      return 0
    fi
    sleep 0.1
  done
  if [[ "$mode" == any ]]; then
    NOT_READY="$url did not answer within 60 s"
  else
    NOT_READY="$url did not answer 200 within 60 s (last answer: HTTP $code)"
  fi
  return 1
}

show_log() {
  local file="$1"
  if [[ -s "$file" ]]; then
    log "last lines of the server log:"
    tail -n 30 "$file" >&2
  fi
}

# Busy share (%) of the machine's CPU over one second, from /proc/stat.
machine_busy() {
  local t1 i1 t2 i2
  read -r t1 i1 < <(awk '/^cpu / { for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6 }' /proc/stat)
  sleep 1
  read -r t2 i2 < <(awk '/^cpu / { for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6 }' /proc/stat)
  awk -v t="$((t2 - t1))" -v i="$((i2 - i1))" \
    'BEGIN { if (t > 0) printf "%.0f\n", 100 * (t - i) / t; else print 0 }'
}

# wait_quiet TARGET: waits up to QUIET_WAIT seconds for the machine to be less than 10 % busy; when
# it stays busier, warns and adds a note for TARGET to the `notes` array.
wait_quiet() {
  local target="$1" busy waited=0
  busy="$(machine_busy)"
  while ((busy >= 10 && waited < QUIET_WAIT)); do
    if ((waited == 0)); then
      log "$target: the machine is $busy % busy; waiting up to $QUIET_WAIT s for it to calm down"
    fi
    sleep 4
    waited=$((waited + 5))
    busy="$(machine_busy)"
  done
  if ((busy >= 10)); then
    log "$target: WARNING: the machine was $busy % busy before the run; results will be low"
    notes+=("$target=the machine was $busy % busy with other work just before this target ran")
  fi
}

# Facts about the machine, as --meta arguments of the table tools, in the array `machine_meta`.
describe_machine() {
  local cpu_model
  cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
  machine_meta=(
    --meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    --meta "cores (nproc)=$(nproc)"
    --meta "CPU=${cpu_model:-unknown}"
    --meta "memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
    --meta "kernel=$(uname -sr)"
    --meta "rustc=$(rustc --version 2>/dev/null || echo unknown)"
  )
}
