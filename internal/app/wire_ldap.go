package app

import (
	"context"
	"path/filepath"

	"github.com/privox/privox/internal/ldapserver"
)

// The LDAP server desk phones read the directory through; it answers from the directory's
// index, so it starts after the directory subsystem.

func init() { registerSubsystem(newLDAPSubsystem) }

type ldapSubsystem struct {
	*ldapserver.Server
	a *App
}

var _ Subsystem = (*ldapSubsystem)(nil)

func newLDAPSubsystem(a *App) (Subsystem, error) {
	c := a.Cfg.LDAP
	if c.Addr == "" && c.LDAPSAddr == "" {
		return nil, nil
	}
	tlsCfg, generated, err := ldapserver.LoadTLS(c.TLSCert, c.TLSKey, filepath.Join(a.Cfg.DataDir, "tls"))
	if err != nil {
		return nil, err
	}
	if generated {
		a.Logger.Info("generated a self-signed LDAPS certificate", "component", "ldap", "dir", filepath.Join(a.Cfg.DataDir, "tls"))
	}
	srv := ldapserver.New(ldapserver.Config{Addr: c.Addr, LDAPSAddr: c.LDAPSAddr, TLS: tlsCfg, AnonymousTenant: c.AnonymousTenant},
		ldapserver.Deps{DB: a.DB, Directory: a.Directory, Logger: a.Logger.With("component", "ldap"), Metrics: a.Metrics})
	return &ldapSubsystem{Server: srv, a: a}, nil
}

func (s *ldapSubsystem) Name() string { return "ldap" }

// Start binds the listeners and records their addresses (tests use port 0).
func (s *ldapSubsystem) Start(ctx context.Context) error {
	if err := s.Server.Start(ctx); err != nil {
		return err
	}
	for _, name := range []string{"ldap", "ldaps"} {
		if v := s.Server.Addr(name); v != "" {
			s.a.SetAddr(name, v)
		}
	}
	return nil
}
