// Command porcupine checks rift's linearizability corpus (../shared/data/porcupine) with
// Porcupine v1.3.1, so bench/linear can print Porcupine's figures next to rift's from the
// same run on the same machine. It prints one line per figure in the format of rift-linear's
// corpus_times example:
//
//	figure<TAB>cpu_ms<TAB>wall_ms<TAB>peak_rss_mb<TAB>verdicts
//
// CPU time is user + system time of the whole process (all goroutines), the median of several
// runs, and includes reading and parsing the files, as ours does. Peak RSS is the process's
// high-water mark (VmHWM); run one figure per process to attribute it.
//
//	go run . DATA_DIR FIGURE
//
// The models are the natural Porcupine ones for these histories:
//   - etcd register (read / write / cas): a failed cas returned false, so it is a read that
//     saw a value other than its expected one; a read that failed with :timed-out and a
//     write or cas that ended :info (or never ended) may take effect at any later time, so
//     it returns after everything else, with any result.
//   - kv (get / put / append on string values), partitioned by key unless a figure says
//     "unsplit", in which case the state is the whole map.
package main

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"
)

// ---- etcd register ----

const (
	opRead = iota
	opWrite
	opCas
)

type regIn struct {
	op       int
	from, to int // write: from is the value
}

type regOut struct {
	unknown bool // the op may or may not have taken effect; any result
	ok      bool // cas succeeded
	present bool // read found a value
	value   int
}

const absent = -1 << 40

// Every model gives Porcupine a state hash (new in v1.3): its cache of visited
// configurations then compares far fewer states, which is Porcupine at its fastest.
var registerModel = porcupine.Model{
	Init: func() interface{} { return absent },
	Hash: func(state interface{}) uint64 { return uint64(state.(int)) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		s := state.(int)
		in := input.(regIn)
		out := output.(regOut)
		switch in.op {
		case opRead:
			if out.unknown {
				return true, s
			}
			if !out.present {
				return s == absent, s
			}
			return s == out.value, s
		case opWrite:
			return true, in.from
		default:
			if s == in.from {
				return out.unknown || out.ok, in.to
			}
			return out.unknown || !out.ok, s
		}
	},
}

// eachLine calls fn with every line of a file and its 1-based number, until fn fails.
func eachLine(path string, fn func(line int, text string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if err := fn(line, sc.Text()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// parseEtcd reads a Jepsen etcd log ("INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>").
func parseEtcd(path string) ([]porcupine.Event, error) {
	var events []porcupine.Event
	open := map[int]int{} // process -> id of its pending call
	var endless []int     // process, id pairs of calls that never return
	next := 0
	err := eachLine(path, func(line int, text string) error {
		i := strings.Index(text, "jepsen.util - ")
		if i < 0 {
			return nil
		}
		fields := strings.Split(strings.TrimSpace(text[i+len("jepsen.util - "):]), "\t")
		if len(fields) < 4 {
			return nil
		}
		proc, err := strconv.Atoi(strings.TrimSpace(fields[0]))
		if err != nil {
			return fmt.Errorf("%s:%d: process %q: %v", path, line, fields[0], err)
		}
		typ, fn, val := strings.TrimSpace(fields[1]), strings.TrimSpace(fields[2]), strings.TrimSpace(fields[3])
		if typ == ":invoke" {
			in, err := regInput(fn, val)
			if err != nil {
				return fmt.Errorf("%s:%d: %v", path, line, err)
			}
			events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.CallEvent, Value: in, Id: next})
			open[proc] = next
			next++
			return nil
		}
		id, ok := open[proc]
		if !ok {
			return fmt.Errorf("%s:%d: process %d completes with no invocation", path, line, proc)
		}
		delete(open, proc)
		if typ == ":info" {
			// It may take effect at any later time: it never returns.
			endless = append(endless, proc, id)
			return nil
		}
		var out regOut
		switch {
		case val == ":timed-out":
			// A read that timed out observed nothing.
			out.unknown = true
		case fn == ":read":
			if val != "nil" {
				v, err := strconv.Atoi(val)
				if err != nil {
					return fmt.Errorf("%s:%d: read value %q: %v", path, line, val, err)
				}
				out.present, out.value = true, v
			}
		case fn == ":cas":
			out.ok = typ == ":ok"
		}
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: out, Id: id})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Calls that ended :info or never ended may have happened at any later time: they
	// return after everything else.
	procs := make([]int, 0, len(open))
	for p := range open {
		procs = append(procs, p)
	}
	sort.Ints(procs)
	for _, p := range procs {
		endless = append(endless, p, open[p])
	}
	for i := 0; i < len(endless); i += 2 {
		events = append(events, porcupine.Event{ClientId: endless[i], Kind: porcupine.ReturnEvent, Value: regOut{unknown: true}, Id: endless[i+1]})
	}
	return events, nil
}

func regInput(fn, val string) (regIn, error) {
	switch fn {
	case ":read":
		return regIn{op: opRead}, nil
	case ":write":
		v, err := strconv.Atoi(val)
		if err != nil {
			return regIn{}, fmt.Errorf("write value %q: %v", val, err)
		}
		return regIn{op: opWrite, from: v}, nil
	case ":cas":
		parts := strings.Fields(strings.Trim(val, "[]"))
		if len(parts) != 2 {
			return regIn{}, fmt.Errorf("cas value %q is not [from to]", val)
		}
		from, err1 := strconv.Atoi(parts[0])
		to, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			return regIn{}, fmt.Errorf("cas value %q is not [from to]", val)
		}
		return regIn{op: opCas, from: from, to: to}, nil
	}
	return regIn{}, fmt.Errorf("unknown :f %s", fn)
}

// ---- kv ----

type kvIn struct {
	op    string // "get", "put", "append"
	key   string
	value string
}

type kvOut struct {
	value string // get's result
}

func kvStep(s string, in kvIn, out kvOut) (bool, string) {
	switch in.op {
	case "get":
		return out.value == s, s
	case "put":
		return true, in.value
	default:
		return true, s + in.value
	}
}

var kvModel = porcupine.Model{
	PartitionEvent: func(history []porcupine.Event) [][]porcupine.Event {
		byKey := map[string][]porcupine.Event{}
		keyOf := map[int]string{}
		var keys []string
		for _, e := range history {
			if e.Kind == porcupine.CallEvent {
				k := e.Value.(kvIn).key
				keyOf[e.Id] = k
				if _, seen := byKey[k]; !seen {
					keys = append(keys, k)
				}
				byKey[k] = append(byKey[k], e)
			} else {
				k := keyOf[e.Id]
				byKey[k] = append(byKey[k], e)
			}
		}
		parts := make([][]porcupine.Event, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		ok, s := kvStep(state.(string), input.(kvIn), output.(kvOut))
		return ok, s
	},
	Hash: func(state interface{}) uint64 { return hashString(state.(string)) },
}

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// kvWhole is the unsplit model: the state is the whole map, copied on every write.
var kvWhole = porcupine.Model{
	Init: func() interface{} { return map[string]string{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		m := state.(map[string]string)
		in := input.(kvIn)
		ok, s := kvStep(m[in.key], in, output.(kvOut))
		if !ok || in.op == "get" {
			return ok, m
		}
		n := make(map[string]string, len(m)+1)
		for k, v := range m {
			n[k] = v
		}
		n[in.key] = s
		return true, n
	},
	// Order-independent: the sum of each entry's hash.
	Hash: func(state interface{}) uint64 {
		var sum uint64
		for k, v := range state.(map[string]string) {
			sum += hashString(k) ^ (hashString(v) * 0x9e3779b97f4a7c15)
		}
		return sum
	},
	Equal: func(a, b interface{}) bool {
		x, y := a.(map[string]string), b.(map[string]string)
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || w != v {
				return false
			}
		}
		return true
	},
}

// kvField returns the value of `:name` in one line of an EDN-ish map, unquoted.
func kvField(line, name string) (string, bool) {
	i := strings.Index(line, name+" ")
	if i < 0 {
		return "", false
	}
	rest := line[i+len(name)+1:]
	if strings.HasPrefix(rest, "\"") {
		j := strings.IndexByte(rest[1:], '"')
		if j < 0 {
			return "", false
		}
		return rest[1 : 1+j], true
	}
	end := strings.IndexAny(rest, ",}")
	if end < 0 {
		end = len(rest)
	}
	return strings.TrimSpace(rest[:end]), true
}

func parseKv(path string) ([]porcupine.Event, error) {
	var events []porcupine.Event
	open := map[int]int{}
	pending := map[int]kvIn{}
	next := 0
	err := eachLine(path, func(line int, text string) error {
		if strings.TrimSpace(text) == "" {
			return nil
		}
		ps, ok1 := kvField(text, ":process")
		typ, ok2 := kvField(text, ":type")
		fn, ok3 := kvField(text, ":f")
		key, ok4 := kvField(text, ":key")
		if !(ok1 && ok2 && ok3 && ok4) {
			return fmt.Errorf("%s:%d: needs :process, :type, :f and :key", path, line)
		}
		proc, err := strconv.Atoi(ps)
		if err != nil {
			return fmt.Errorf("%s:%d: :process %q: %v", path, line, ps, err)
		}
		value, _ := kvField(text, ":value")
		if value == "nil" {
			value = ""
		}
		if typ == ":invoke" {
			in := kvIn{op: strings.TrimPrefix(fn, ":"), key: key, value: value}
			events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.CallEvent, Value: in, Id: next})
			open[proc] = next
			pending[proc] = in
			next++
			return nil
		}
		id, ok := open[proc]
		if !ok {
			return fmt.Errorf("%s:%d: process %d completes with no invocation", path, line, proc)
		}
		if typ != ":ok" {
			return fmt.Errorf("%s:%d: :type %s: these histories hold only :invoke and :ok", path, line, typ)
		}
		delete(open, proc)
		out := kvOut{}
		if pending[proc].op == "get" {
			out.value = value
		}
		events = append(events, porcupine.Event{ClientId: proc, Kind: porcupine.ReturnEvent, Value: out, Id: id})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("%s: %d calls never return (these histories hold none)", path, len(open))
	}
	return events, nil
}

// ---- measuring ----

func cpuNs() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func peakRssMb() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

func measure(runs int, f func() string) (float64, float64, string) {
	var cpu, wall []float64
	var summary string
	for i := 0; i < runs; i++ {
		c0, w0 := cpuNs(), time.Now()
		summary = f()
		cpu = append(cpu, float64(cpuNs()-c0)/1e6)
		wall = append(wall, float64(time.Since(w0).Nanoseconds())/1e6)
	}
	return median(cpu), median(wall), summary
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "porcupine harness:", err)
	os.Exit(1)
}

func verdict(ok bool) string {
	if ok {
		return "true"
	}
	return "false"
}

func checkKvFile(path string, model porcupine.Model) bool {
	events, err := parseKv(path)
	if err != nil {
		die(err)
	}
	return porcupine.CheckEvents(model, events)
}

var figures = []string{"etcd-all", "etcd-002", "kv-c50-ok", "kv-c10-ok-unsplit", "kv-c10-bad-unsplit", "kv-c50-bad-artifact"}

func figure(data, name string) (float64, float64, string, bool) {
	etcd := filepath.Join(data, "porcupine", "etcd")
	kv := filepath.Join(data, "porcupine", "kv")
	var cpu, wall float64
	var summary string
	switch name {
	case "etcd-all":
		files, err := filepath.Glob(filepath.Join(etcd, "*.log"))
		if err != nil || len(files) == 0 {
			die(fmt.Errorf("no etcd logs in %s", etcd))
		}
		sort.Strings(files)
		cpu, wall, summary = measure(7, func() string {
			t, f := 0, 0
			for _, p := range files {
				events, err := parseEtcd(p)
				if err != nil {
					die(err)
				}
				if porcupine.CheckEvents(registerModel, events) {
					t++
				} else {
					f++
				}
			}
			return fmt.Sprintf("%d files: %d linearizable, %d not", len(files), t, f)
		})
	case "etcd-002":
		cpu, wall, summary = measure(7, func() string {
			events, err := parseEtcd(filepath.Join(etcd, "etcd_002.log"))
			if err != nil {
				die(err)
			}
			return "valid? " + verdict(porcupine.CheckEvents(registerModel, events))
		})
	case "kv-c50-ok":
		cpu, wall, summary = measure(7, func() string {
			return "valid? " + verdict(checkKvFile(filepath.Join(kv, "c50-ok.txt"), kvModel))
		})
	case "kv-c10-ok-unsplit":
		cpu, wall, summary = measure(3, func() string {
			return "valid? " + verdict(checkKvFile(filepath.Join(kv, "c10-ok.txt"), kvWhole))
		})
	case "kv-c10-bad-unsplit":
		cpu, wall, summary = measure(3, func() string {
			return "valid? " + verdict(checkKvFile(filepath.Join(kv, "c10-bad.txt"), kvWhole))
		})
	case "kv-c50-bad-artifact":
		// Porcupine's counterpart of our artifact: the verbose check (partial
		// linearizations) and its HTML visualisation.
		out := filepath.Join(os.TempDir(), "rift-porcupine-c50-bad.html")
		cpu, wall, summary = measure(1, func() string {
			events, err := parseKv(filepath.Join(kv, "c50-bad.txt"))
			if err != nil {
				die(err)
			}
			res, info := porcupine.CheckEventsVerbose(kvModel, events, 0)
			if err := porcupine.VisualizePath(kvModel, info, out); err != nil {
				die(err)
			}
			size := int64(0)
			if st, err := os.Stat(out); err == nil {
				size = st.Size()
			}
			return fmt.Sprintf("valid? %s, visualisation %d bytes", verdict(res == porcupine.Ok), size)
		})
	default:
		return 0, 0, "", false
	}
	return cpu, wall, summary, true
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: porcupine DATA_DIR FIGURE\nfigures: %s\n", strings.Join(figures, ", "))
		os.Exit(2)
	}
	cpu, wall, summary, ok := figure(os.Args[1], os.Args[2])
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown figure %s; figures: %s\n", os.Args[2], strings.Join(figures, ", "))
		os.Exit(2)
	}
	fmt.Printf("%s\t%.2f\t%.2f\t%.1f\t%s\n", os.Args[2], cpu, wall, peakRssMb(), summary)
}
