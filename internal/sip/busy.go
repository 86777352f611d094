package sip

import "sync"

// Which extensions are on an answered call: the dial plan skips them in hunt groups
// (dialplan.Extension.Busy). A call marks its internal caller and its callee when a fork
// answers and unmarks them when it finishes; the index has its own lock, taken after a
// call's mu and never before it, so that the extension lookup of the dial plan reads it
// without walking the call table.
type busyIndex struct {
	mu sync.Mutex
	n  map[aorKey]int
}

func newBusyIndex() *busyIndex { return &busyIndex{n: map[aorKey]int{}} }

func (b *busyIndex) add(keys []aorKey, d int) {
	if len(keys) == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range keys {
		if b.n[k] += d; b.n[k] <= 0 {
			delete(b.n, k)
		}
	}
}

func (b *busyIndex) busy(k aorKey) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n[k] > 0
}

// markBusy marks the call's extensions busy once it is answered (caller holds c.mu).
func (c *call) markBusy() {
	if c.busyOn != nil {
		return
	}
	c.busyOn = []aorKey{}
	for _, a := range []*account{c.caller, c.callee} {
		if a != nil && a.extID != 0 && a.trunk == "" {
			c.busyOn = append(c.busyOn, aorKey{a.tenantID, a.number})
		}
	}
	c.s.busy.add(c.busyOn, 1)
}

// unmarkBusy takes back markBusy when the call finishes (caller holds c.mu).
func (c *call) unmarkBusy() {
	c.s.busy.add(c.busyOn, -1)
	c.busyOn = []aorKey{} // non-nil: not marked again
}
