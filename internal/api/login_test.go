package api_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/privox/privox/internal/api"
	"github.com/privox/privox/internal/credential"
	"github.com/privox/privox/internal/privoxtest"
)

// loginFrom posts a login from a loopback source address of its own and returns the status
// and the Retry-After header.
func loginFrom(t *testing.T, p *privoxtest.Privox, ip, tenant, email, password string) (int, string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}}
	defer c.CloseIdleConnections()
	body := fmt.Sprintf(`{"tenant":%q,"email":%q,"password":%q}`, tenant, email, password)
	res, err := c.Post(p.URL+"/api/v1/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Errorf("login from %s: %v", ip, err)
		return 0, ""
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Retry-After")
}

// procStatus reads a line of /proc/self/status in kB (0 where there is none).
func procStatus(key string) string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// TestParallelWrongLogins: 40 wrong logins at once from one address are counted before any
// hashing, so ten are checked and thirty refused at once; then 16 at once from 16 addresses
// are all checked. Never do more password hashes (64 MiB each) run at once than the limit
// sized to memory, and another address logs in as usual afterwards.
func TestParallelWrongLogins(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	api.FreezeLoginClock(p.App.API)
	credential.VerifyUnknown(t.Context(), "warm-up") // makes the dummy hash once
	t.Logf("before: VmRSS %s, VmHWM %s", procStatus("VmRSS"), procStatus("VmHWM"))
	before := credential.Hashes()
	burst := func(n int, admin bool, ip func(i int) string) map[int]int {
		var mu sync.Mutex
		statuses := map[int]int{}
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Existing and unknown tenants and accounts alike.
				tenant, email := "default", fmt.Sprintf("guess%d-%s@localhost", i, ip(i))
				switch {
				case i%4 == 0 && admin:
					email = "admin@localhost"
				case i%4 == 1:
					tenant = fmt.Sprintf("nosuchtenant%d", i)
				}
				st, _ := loginFrom(t, p, ip(i), tenant, email, "wrong-password")
				mu.Lock()
				statuses[st]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		return statuses
	}
	got := burst(40, true, func(int) string { return "127.0.0.5" })
	if got[401] != 10 || got[429] != 30 {
		t.Errorf("40 at once from one address: %v, want 10×401 and 30×429", got)
	}
	got = burst(16, false, func(i int) string { return fmt.Sprintf("127.0.1.%d", i+1) })
	if got[401] != 16 {
		t.Errorf("16 at once from 16 addresses: %v, want 16×401", got)
	}
	after := credential.Hashes()
	t.Logf("after: VmRSS %s, VmHWM %s; hashes: limit %d, peak %d, %d computed", procStatus("VmRSS"), procStatus("VmHWM"), after.Limit, after.Peak, after.Total-before.Total)
	if after.Peak > after.Limit {
		t.Errorf("%d password hashes ran at once, limit %d", after.Peak, after.Limit)
	}
	if n := after.Total - before.Total; n != 26 {
		t.Errorf("%d password hashes for 26 checked logins", n)
	}
	// The flood from one address has slowed neither the address of the admin nor the account.
	if st, _ := loginFrom(t, p, "127.0.0.1", "default", "admin@localhost", privoxtest.AdminPassword); st != 200 {
		t.Errorf("admin from another address after the flood: %d", st)
	}
}

// TestLoginThrottlePerAccount: guesses at one account from many addresses are slowed by the
// account's budget, whether or not the account exists; the owner still logs in from an
// address they logged in from before; an unknown account costs a hash like a known one.
func TestLoginThrottlePerAccount(t *testing.T) {
	p := privoxtest.Start(t, privoxtest.Options{})
	advance := api.FreezeLoginClock(p.App.API)
	if st, _ := loginFrom(t, p, "127.0.0.1", "default", "admin@localhost", privoxtest.AdminPassword); st != 200 {
		t.Fatalf("first login: %d", st)
	}
	for _, acct := range []struct{ tenant, email string }{{"default", "admin@localhost"}, {"default", "nobody@localhost"}, {"nosuchtenant", "admin@localhost"}} {
		for i := 1; i <= 6; i++ {
			h := credential.Hashes().Total
			st, retry := loginFrom(t, p, fmt.Sprintf("127.0.2.%d", i), acct.tenant, acct.email, "wrong-password")
			hashed := credential.Hashes().Total - h
			switch {
			case i <= 5 && (st != 401 || hashed != 1):
				t.Errorf("%s/%s attempt %d: %d with %d hashes, want 401 with 1", acct.tenant, acct.email, i, st, hashed)
			case i == 6 && (st != 429 || retry == "" || hashed != 0):
				t.Errorf("%s/%s attempt %d: %d (Retry-After %q) with %d hashes, want 429 before hashing", acct.tenant, acct.email, i, st, retry, hashed)
			}
		}
	}
	// The owner, from an address they logged in from before, is not locked out.
	if st, _ := loginFrom(t, p, "127.0.0.1", "default", "admin@localhost", privoxtest.AdminPassword); st != 200 {
		t.Errorf("owner from a known address: %d", st)
	}
	// A new address waits for the budget to refill, even with the right password.
	if st, retry := loginFrom(t, p, "127.0.2.7", "default", "admin@localhost", privoxtest.AdminPassword); st != 429 || retry == "" {
		t.Errorf("new address while the budget is spent: %d %q", st, retry)
	}
	// The budget refills with time: one attempt per 30 s.
	advance(31 * time.Second)
	if st, _ := loginFrom(t, p, "127.0.2.8", "default", "admin@localhost", privoxtest.AdminPassword); st != 200 {
		t.Errorf("new address after the budget refilled by one: %d", st)
	}
	// One address alone cannot slow an account: ten wrong passwords from it (its own limit),
	// and the owner logs in from a new address.
	p.MustDo(201, "POST", "/api/v1/tenants/1/users", p.AdminToken, map[string]any{"name": "Carol", "email": "carol@localhost", "password": "carol-password-1"}, nil)
	for i := 0; i < 10; i++ {
		if st, _ := loginFrom(t, p, "127.0.3.1", "default", "carol@localhost", "wrong-password"); st != 401 {
			t.Errorf("guess %d from one address: %d", i, st)
		}
	}
	if st, _ := loginFrom(t, p, "127.0.3.1", "default", "carol@localhost", "wrong-password"); st != 429 {
		t.Errorf("eleventh guess from one address: %d", st)
	}
	if st, _ := loginFrom(t, p, "127.0.3.2", "default", "carol@localhost", "carol-password-1"); st != 200 {
		t.Errorf("owner from a new address after one address guessed: %d", st)
	}
}
