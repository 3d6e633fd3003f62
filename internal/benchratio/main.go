// Command benchratio summarises interleaved `go test -bench` runs as paired
// ratios, the form in which docs/BENCHMARKS.md publishes hakmem's targets.
//
// Feed it the concatenated output of N runs of `go test -bench ... -count 1`
// (scripts/bench-core.sh does this, so that each run measures every
// benchmark once and drift hits all of them alike). For each benchmark it
// prints the median ns/op with its min and max, and for each pair named with
// -pair it prints the ratio of the two benchmarks run by run: the median
// ratio and its range over the runs.
//
//	benchratio -pair 'Pair/make/*=Pair/hakmem/*' < runs.txt
//
// A '*' in a pair stands for the same text on both sides (the size).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type pairFlag []string

func (p *pairFlag) String() string     { return strings.Join(*p, ",") }
func (p *pairFlag) Set(s string) error { *p = append(*p, s); return nil }

var line = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+([0-9.]+) ns/op(.*)$`)

func main() {
	var pairs pairFlag
	flag.Var(&pairs, "pair", "NUM=DEN: print NUM/DEN per run (repeatable; '*' matches the same text on both sides)")
	flag.Parse()

	runs := map[string][]float64{} // name -> ns/op, in run order
	extra := map[string][]string{} // name -> the rest of the line, last run
	var order []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		if _, ok := runs[m[1]]; !ok {
			order = append(order, m[1])
		}
		runs[m[1]] = append(runs[m[1]], v)
		extra[m[1]] = strings.Fields(m[4])
	}
	if len(order) == 0 {
		fmt.Fprintln(os.Stderr, "benchratio: no benchmark lines on stdin")
		os.Exit(1)
	}
	fmt.Printf("%-44s %5s %12s %12s %12s  %s\n", "benchmark", "runs", "median ns/op", "min", "max", "other metrics (last run)")
	for _, n := range order {
		v := runs[n]
		fmt.Printf("%-44s %5d %12.2f %12.2f %12.2f  %s\n", n, len(v), median(v), slices.Min(v), slices.Max(v), strings.Join(extra[n], " "))
	}
	for _, p := range pairs {
		num, den, ok := strings.Cut(p, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "benchratio: -pair %q: want NUM=DEN\n", p)
			os.Exit(2)
		}
		fmt.Printf("\nratio %s / %s, run by run\n", num, den)
		fmt.Printf("%-44s %5s %8s %8s %8s\n", "numerator", "runs", "median", "min", "max")
		for _, n := range order {
			star, ok := match(num, n)
			if !ok {
				continue
			}
			d := strings.Replace(den, "*", star, 1)
			a, b := runs[n], runs[d]
			k := min(len(a), len(b))
			if k == 0 {
				continue
			}
			r := make([]float64, k)
			for i := range k {
				r[i] = a[i] / b[i]
			}
			fmt.Printf("%-44s %5d %8.2f %8.2f %8.2f\n", n, k, median(r), slices.Min(r), slices.Max(r))
		}
	}
}

// match reports whether name matches pattern (at most one '*') and what the
// star stood for.
func match(pattern, name string) (string, bool) {
	pre, post, star := strings.Cut(pattern, "*")
	if !star {
		return "", pattern == name
	}
	if len(name) < len(pre)+len(post) || !strings.HasPrefix(name, pre) || !strings.HasSuffix(name, post) {
		return "", false
	}
	return name[len(pre) : len(name)-len(post)], true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
