package dialplan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
)

// Trunk kinds and transports a trunk may be configured with.
const (
	TrunkRegister = "register" // Privox registers with the provider (digest auth)
	TrunkIP       = "ip"       // the provider is recognised by its source addresses
)

var transports = map[string]bool{"udp": true, "tcp": true, "tls": true}

// MaxPassword bounds a trunk password; MaxSources the allowed source entries.
const (
	MaxPassword = 256
	MaxSources  = 32
)

func validServer(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || len(host) > 253 {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

// ValidateTrunk checks a trunk's configuration (password: the new password, "" to keep the
// stored one) and fills in defaults.
func ValidateTrunk(t store.Trunk, password string, hasPassword bool) (store.Trunk, error) {
	if !validName(t.Name) {
		return t, fieldErr("name", "%q: 1 to 64 letters, digits, '-', '_' or '.'", t.Name)
	}
	if t.Transport == "" {
		t.Transport = "udp"
	}
	if !transports[t.Transport] {
		return t, fieldErr("transport", "%q: udp, tcp or tls", t.Transport)
	}
	if !validServer(t.Server) {
		return t, fieldErr("server", "%q: host:port", t.Server)
	}
	if t.Failover != "" && !validServer(t.Failover) {
		return t, fieldErr("failover", "%q: host:port", t.Failover)
	}
	if t.DIDFrom == "" {
		t.DIDFrom = "ruri"
	}
	if t.DIDFrom != "ruri" && t.DIDFrom != "to" {
		return t, fieldErr("did_from", "%q: ruri (the Request-URI) or to (the To header)", t.DIDFrom)
	}
	if len(password) > MaxPassword {
		return t, fieldErr("password", "longer than %d characters", MaxPassword)
	}
	switch t.Kind {
	case TrunkRegister:
		if t.Username == "" || len(t.Username) > 128 {
			return t, fieldErr("username", "1 to 128 characters for a registering trunk")
		}
		if password == "" && !hasPassword {
			return t, fieldErr("password", "required for a registering trunk")
		}
		if t.RegisterExpires == 0 {
			t.RegisterExpires = 300
		}
		if t.RegisterExpires < 60 || t.RegisterExpires > 86400 {
			return t, fieldErr("register_expires", "%d: 60 to 86400 seconds", t.RegisterExpires)
		}
		if len(t.AllowedSources) > 0 {
			return t, fieldErr("allowed_sources", "only for ip trunks")
		}
	case TrunkIP:
		if t.Username != "" || password != "" {
			return t, fieldErr("username", "ip trunks carry no credentials")
		}
		if len(t.AllowedSources) == 0 || len(t.AllowedSources) > MaxSources {
			return t, fieldErr("allowed_sources", "1 to %d addresses or prefixes", MaxSources)
		}
		for i, s := range t.AllowedSources {
			if p, err := netip.ParsePrefix(s); err == nil {
				t.AllowedSources[i] = p.Masked().String()
			} else if a, err := netip.ParseAddr(s); err == nil {
				t.AllowedSources[i] = netip.PrefixFrom(a, a.BitLen()).String()
			} else {
				return t, fieldErr("allowed_sources", "%q is not an address or prefix", s)
			}
		}
		t.RegisterExpires = 0
	default:
		return t, fieldErr("kind", "%q: register or ip", t.Kind)
	}
	return t, nil
}

// Sealer seals a trunk password for one trunk (keys.Vault via SealTrunkSecret).
type Sealer func(tenantID, trunkID int64, password string) (string, error)

// SaveTrunk validates and stores a trunk; password, when not "", replaces the stored one.
func (s *StoreTables) SaveTrunk(ctx context.Context, t store.Trunk, password string, seal Sealer) (store.Trunk, error) {
	old, err := s.db.Trunk(ctx, t.TenantID, t.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return t, err
	}
	t, err = ValidateTrunk(t, password, err == nil && old.HasPassword && old.Kind == TrunkRegister)
	if err != nil {
		return t, err
	}
	var sealFn func(int64) (string, error)
	if password != "" {
		sealFn = func(id int64) (string, error) { return seal(t.TenantID, id, password) }
	}
	out, err := s.db.PutTrunk(ctx, t, sealFn)
	s.Invalidate(t.TenantID)
	return out, err
}

// ErrTrunkInUse: a trunk that outbound routes name cannot be deleted.
var ErrTrunkInUse = errors.New("outbound routes use the trunk")

// DeleteTrunk removes a trunk no outbound route names.
func (s *StoreTables) DeleteTrunk(ctx context.Context, tenantID int64, name string) error {
	rs, err := s.db.ListOutboundRoutes(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, r := range rs {
		for _, t := range r.Trunks {
			if t == name {
				return &FieldError{Field: "trunk", Err: fmt.Errorf("%w: route %s names it", ErrTrunkInUse, r.Name)}
			}
		}
	}
	err = s.db.DeleteTrunk(ctx, tenantID, name)
	s.Invalidate(tenantID)
	return err
}

// SealTrunkSecret is the Sealer over a vault's tenant keys: the sealed value is bound to
// the trunk's credentials row.
func SealTrunkSecret(v interface {
	SealSecret(tenantID int64, binding, secret string) (string, error)
}) Sealer {
	return func(tenantID, trunkID int64, password string) (string, error) {
		return v.SealSecret(tenantID, TrunkSecretBinding(trunkID), password)
	}
}

// TrunkSecretBinding names where a trunk's sealed password lives.
func TrunkSecretBinding(trunkID int64) string {
	return keys.SecretBinding("trunk_credentials", trunkID, "secret_sealed")
}
