package dialplan

import (
	"context"
	"fmt"
	"testing"
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
// 10,000 outbound patterns (extensions and applications answered from memory).
func BenchmarkRouteOutbound(b *testing.B) {
	t := benchTable(b, 10000)
	p := New(Stages(Deps{Extensions: exts{"1001": true}, Applications: apps{}, Routes: table{t}})...)
	ctx := context.Background()
	nums := []string{"0301234567", "08912345678", "0049301234567", "0221987654"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := p.Route(ctx, &Request{TenantID: 1, From: "1001", To: nums[i%len(nums)]})
		if err != nil || d.Dest == nil {
			b.Fatal(d, err)
		}
	}
}

// BenchmarkClassify: E.164 normalisation and classification of one number (phonenumbers).
func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, c := Classify("0301234567", "DE"); c != ClassNational {
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
