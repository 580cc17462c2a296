#!/usr/bin/env bash
# Runs the benchmark suite: a raw goroutine+channel baseline, AirsSys-RT,
# protoactor-go and suture on the workloads of issues 3 and 10, then prints
# benchstat's comparison (libraries side by side, raw first) and a table of
# medians with ratios to raw and to protoactor-go (suture for the supervisor
# workload), and checks the issues' performance bars. The restart
# workloads run in two forms, crash=error and crash=panic (see README.md).
#
#   ./run.sh                 # COUNT=5 rounds, about 3 minutes on 2 cores
#   COUNT=10 ./run.sh        # more rounds, tighter intervals
#   WORKLOADS='PingPong FanIn' ./run.sh
#
# Environment (all optional):
#   COUNT        rounds of every workload (default 5)
#   WORKLOADS    which workloads, space-separated (default: all, in order below)
#   OUT          directory for bench.txt, benchstat.txt, table.md
#                (default: results/<date-time> next to this script)
#   PINGPONG_N   round trips per run (default 1000000, the issue's 1M)
#   FANIN_N      messages per run (default 10000000, the issue's 10M)
#   SPAWN_N      actors per run (default 100000, the issue's 100,000)
#   RESTART_N    crashes per run, for ActorRestart and SupervisorRestart
#                (default 50000)
#   GROUP_N      group restarts of 1,000 actors per run (default 200)
#   CPU          GOMAXPROCS values for go test -cpu (default: the machine's)
#
# Rounds are interleaved (every workload once, then again) rather than
# back-to-back repeats, so that a noisy neighbour on a shared machine
# spreads over all libraries instead of landing on one.
set -euo pipefail

cd "$(dirname "$0")"

COUNT=${COUNT:-5}
WORKLOADS=${WORKLOADS:-PingPong FanIn SpawnMessageStop IdleMemory ActorRestart SupervisorRestart GroupRestart}
PINGPONG_N=${PINGPONG_N:-1000000}
FANIN_N=${FANIN_N:-10000000}
SPAWN_N=${SPAWN_N:-100000}
RESTART_N=${RESTART_N:-50000}
GROUP_N=${GROUP_N:-200}
OUT=${OUT:-results/$(date +%Y%m%d-%H%M%S)}

if ! [[ $COUNT =~ ^[1-9][0-9]*$ ]]; then
	echo "run.sh: COUNT must be a positive integer, not '$COUNT'" >&2
	exit 2
fi

benchtime() {
	case $1 in
	PingPong) echo "${PINGPONG_N}x" ;;
	FanIn) echo "${FANIN_N}x" ;;
	SpawnMessageStop) echo "${SPAWN_N}x" ;;
	IdleMemory) echo "1x" ;; # one op is the whole set of 100,000 actors
	ActorRestart | SupervisorRestart) echo "${RESTART_N}x" ;;
	GroupRestart) echo "${GROUP_N}x" ;;
	*)
		echo "run.sh: unknown workload '$1'" >&2
		exit 2
		;;
	esac
}
for w in $WORKLOADS; do benchtime "$w" >/dev/null; done

mkdir -p "$OUT"
bench="$OUT/bench.txt"
: >"$bench"

# One test binary for the whole run, so that every round runs the same code.
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
echo "building the benchmarks ($(go version | cut -d' ' -f3), module $(go list -m))" >&2
go test -c -o "$bin/bench.test" .

cpu=()
if [[ -n ${CPU:-} ]]; then cpu=(-test.cpu "$CPU"); fi

# The machine's load beside the results: on a shared machine it says how
# far the numbers can be trusted.
echo "before: $(uptime)" | tee "$OUT/load.txt" >&2

start=$SECONDS
header=1
for round in $(seq 1 "$COUNT"); do
	for w in $WORKLOADS; do
		echo "round $round/$COUNT: $w ($(benchtime "$w"))" >&2
		# The go test header (goos, cpu, ...) once, at the top; benchstat
		# and cmd/table read it from there.
		"$bin/bench.test" -test.run '^$' -test.bench "^Benchmark$w\$" \
			-test.benchtime "$(benchtime "$w")" -test.count 1 -test.benchmem \
			-test.timeout 30m "${cpu[@]}" |
			if ((header)); then grep -v '^PASS$\|^ok '; else grep '^Benchmark'; fi |
			tee -a "$bench" >&2
		header=0
	done
done
echo "after: $(uptime)" | tee -a "$OUT/load.txt" >&2
echo "benchmarks took $((SECONDS - start)) s; raw results in $bench" >&2

# benchstat wants 6 results for a 95% interval without assuming a
# distribution; below that, show 90% rather than no interval at all.
confidence=0.95
if ((COUNT < 6)); then confidence=0.90; fi

echo
echo "## benchstat (columns: libraries, compared with raw)"
echo
go tool benchstat -col /lib -confidence "$confidence" "$bench" | tee "$OUT/benchstat.txt"

echo
echo "## Medians and ratios ($COUNT rounds)"
echo
go run ./cmd/table "$bench" | tee "$OUT/table.md"
