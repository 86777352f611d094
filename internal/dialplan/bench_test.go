package dialplan

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/privox/privox/internal/store"
)

// benchTable is a tenant with n outbound routes: area-code routes "_0<area>X." with areas of
// 2 to 5 digits, the most specific first, and a national and an international catch-all.
func benchTable(b *testing.B, n int) *Table {
	routes := make([]*Route, 0, n+2)
	for i := 0; i < n; i++ {
		p, err := ParsePattern(fmt.Sprintf("_0%dXXXX.", 20+i*7%99980))
		if err != nil {
			b.Fatal(err)
		}
		routes = append(routes, &Route{Name: fmt.Sprint("r", i), Pattern: p, E164: true, Trunks: []string{"carrier"}})
	}
	for _, s := range []string{"_0[1-9]X.", "_00X."} {
		p, _ := ParsePattern(s)
		routes = append(routes, &Route{Name: s, Pattern: p, E164: true, Trunks: []string{"carrier"}})
	}
	t, err := NewTable("DE", Policy{}, routes)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkRouteOutbound: one routing decision for an outside number in a tenant with
// 10,000 outbound patterns (extensions and applications answered from memory), for numbers
// dialled before (their classification remembered); reports the p99.
func BenchmarkRouteOutbound(b *testing.B) {
	benchOutbound(b, func(i int) string {
		return []string{"0301234567", "08912345678", "0049301234567", "0221987654"}[i%4]
	})
}

// BenchmarkRouteOutboundFirstSeen: the same for numbers never dialled before, each classified
// by phonenumbers.
func BenchmarkRouteOutboundFirstSeen(b *testing.B) {
	benchOutbound(b, func(i int) string { return fmt.Sprintf("030%08d", i) })
}

func benchOutbound(b *testing.B, number func(int) string) {
	t := benchTable(b, 10000)
	p := New(Stages(Deps{Extensions: exts{"1001": true}, Applications: apps{}, Routes: table{t}})...)
	ctx := context.Background()
	nums := make([]string, b.N)
	for i := range nums {
		nums[i] = number(i)
	}
	clear(classCache.m)
	route := func(i int) (*Decision, error) {
		return p.Route(ctx, &Request{TenantID: 1, From: "1001", To: nums[i]})
	}
	measure(b, route, func(d *Decision) bool { return d.Dest != nil })
}

// measure runs b.N routing decisions, timing each, and reports the median and the p99 of
// the decisions' times beside the mean. The garbage of building the tables is collected
// before the clock starts, so that a collection it owes does not land among the
// decisions (the garbage routing itself makes is collected while they run, as in a
// server).
func measure(b *testing.B, route func(i int) (*Decision, error), ok func(*Decision) bool) {
	lat := make([]time.Duration, b.N)
	runtime.GC()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		d, err := route(i)
		lat[i] = time.Since(start)
		if err != nil || !ok(d) {
			b.Fatal(d, err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkClassify: E.164 normalisation and classification of one number (phonenumbers).
func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, c := classify("0301234567", "DE"); c != ClassNational {
			b.Fatal(c)
		}
	}
}

// BenchmarkMatch10k: the pattern match alone over 10,000 routes.
func BenchmarkMatch10k(b *testing.B) {
	t := benchTable(b, 10000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if t.Match("0301234567") == nil {
			b.Fatal("no match")
		}
	}
}

// BenchmarkRouteInbound: one routing decision for a call from a trunk in a tenant with
// 10,000 outbound patterns, 10,000 DIDs (single numbers and ranges) and 1,000 groups, the
// DID as providers send it (E.164, national, without the plus); reports the p99.
func BenchmarkRouteInbound(b *testing.B) {
	t := benchTable(b, 10000)
	var dids []store.DID
	var groups []store.RingGroup
	members := exts{}
	for i := 0; i < 1000; i++ {
		n := fmt.Sprint(6000 + i)
		groups = append(groups, store.RingGroup{Number: n, Strategy: StrategySimultaneous, RingTimeS: 20,
			Members: []store.RingGroupMember{{Extension: fmt.Sprint(20000 + 2*i)}, {Extension: fmt.Sprint(20001 + 2*i)}}})
		members[fmt.Sprint(20000+2*i)], members[fmt.Sprint(20001+2*i)] = true, true
	}
	for i := 0; i < 9000; i++ {
		dids = append(dids, store.DID{Number: fmt.Sprintf("+49305%06d", i), Last: fmt.Sprintf("+49305%06d", i), DestKind: "group", DestNumber: fmt.Sprint(6000 + i%1000)})
	}
	for i := 0; i < 1000; i++ {
		first := fmt.Sprintf("+4940%04d00", i)
		dids = append(dids, store.DID{Number: first, Last: first[:len(first)-2] + "99", DestKind: "group", DestNumber: fmt.Sprint(6000 + i)})
	}
	dt := NewDIDTable("DE", dids, store.DIDDefault{})
	p := New(Stages(Deps{Extensions: members, Applications: apps{}, Routes: table{t}, DIDs: didTables{dt}, Groups: groupTables{NewGroupTable(groups, nil)}})...)
	ctx := context.Background()
	nums := []string{"+49305001234", "0305004321", "4940012345", "+4940099999"}
	route := func(i int) (*Decision, error) {
		return p.Route(ctx, &Request{TenantID: 1, Trunk: "carrier", To: nums[i%len(nums)]})
	}
	measure(b, route, func(d *Decision) bool { return d.Dest != nil && d.Dest.Kind == KindGroup })
}
