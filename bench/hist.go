package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram buckets: values below histLinear microseconds are exact; above, each power of two
// is split into histSub buckets, so a quantile is within 1/histSub (1.6 %) of the truth.
const (
	histSub    = 64
	histLinear = 2 * histSub
	histExps   = 40 // up to 2^46 µs, far beyond any run
	histLen    = histLinear + histExps*histSub
)

// hist is a lock-free latency histogram in microseconds, safe for concurrent use: every
// delivery records into one shared array with atomic adds, so the generator keeps no samples.
type hist struct {
	buckets [histLen]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Uint64
	max     atomic.Uint64
}

func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	e := bits.Len64(us) - 7 // us>>e is in [64, 128)
	i := histLinear + (e-1)*histSub + int(us>>e) - histSub
	return min(i, histLen-1)
}

// bucketMid returns a value in the middle of bucket i.
func bucketMid(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	e := (i-histLinear)/histSub + 1
	lo := uint64(histSub+(i-histLinear)%histSub) << e
	return lo + (uint64(1)<<e)/2
}

// record adds one latency; negative ones (clock steps) count as zero.
func (h *hist) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.buckets[bucketOf(us)].Add(1)
	h.count.Add(1)
	h.sum.Add(us)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// quantile returns the latency below which a fraction q of the recorded ones fall.
func (h *hist) quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketMid(i), h.max.Load())) * time.Microsecond
		}
	}
	return h.maxDur()
}

func (h *hist) maxDur() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

func (h *hist) mean() time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load()/n) * time.Microsecond
}

// addLatency puts a histogram's quantiles into the report under prefix, in milliseconds.
func (r *report) addLatency(prefix string, h *hist, what string) {
	if h.count.Load() == 0 {
		r.add(prefix+"_count", 0, "", what+": none recorded")
		return
	}
	r.add(prefix+"_p50_ms", ms(h.quantile(0.50)), "ms", what+", median")
	r.add(prefix+"_p90_ms", ms(h.quantile(0.90)), "ms", "")
	r.add(prefix+"_p99_ms", ms(h.quantile(0.99)), "ms", "")
	r.add(prefix+"_max_ms", ms(h.maxDur()), "ms", "")
	r.add(prefix+"_mean_ms", ms(h.mean()), "ms", "")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
