package main

// bitset records which message indexes a subscriber has received.
type bitset []uint64

// set marks i and reports whether it was new.
func (b *bitset) set(i int) bool {
	if i < 0 || i >= maxMessages {
		return false
	}
	w := i / 64
	if w >= len(*b) {
		grown := make(bitset, max(w+1, 2*len(*b)))
		copy(grown, *b)
		*b = grown
	}
	m := uint64(1) << (i % 64)
	if (*b)[w]&m != 0 {
		return false
	}
	(*b)[w] |= m
	return true
}
