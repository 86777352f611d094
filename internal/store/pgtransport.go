package store

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrPlaintextPostgres: the PostgreSQL connection string lets the connection go without TLS
// or without verifying the server's certificate.
var ErrPlaintextPostgres = errors.New("store: the PostgreSQL connection would not be TLS with a verified server certificate")

// CheckPostgresTransport refuses a connection string under which names, numbers and call
// records could cross the network readable or to an impostor: every host it names must be
// reached over TLS that verifies the server (sslmode=verify-full, or verify-ca), since
// sslmode=disable is plaintext, allow and prefer (the driver's default) fall back to it, and
// require encrypts without knowing whom to. A Unix socket is local and needs no TLS; a
// loopback host may go without verified TLS only when allowPlaintextLoopback is set
// (database.allow_plaintext_loopback).
func CheckPostgresTransport(dsn string, allowPlaintextLoopback bool) error {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("store: PostgreSQL connection string: %w", err)
	}
	type attempt struct {
		host string
		tls  bool
		ok   bool // verifies the server
	}
	all := []attempt{{cfg.Host, cfg.TLSConfig != nil, verifies(cfg.TLSConfig)}}
	for _, f := range cfg.Fallbacks {
		all = append(all, attempt{f.Host, f.TLSConfig != nil, verifies(f.TLSConfig)})
	}
	// Plaintext first: prefer tries unverified TLS, then falls back to none.
	for _, a := range all {
		if !a.tls && !local(a.host, allowPlaintextLoopback) {
			return fmt.Errorf("%w: the connection to %s may go without TLS (sslmode disable, allow or prefer, prefer being the default); use sslmode=verify-full with sslrootcert, or for a server on this machine a Unix socket or a loopback address with database.allow_plaintext_loopback: true", ErrPlaintextPostgres, a.host)
		}
	}
	for _, a := range all {
		if a.tls && !a.ok && !local(a.host, allowPlaintextLoopback) {
			return fmt.Errorf("%w: sslmode=require encrypts the connection to %s without verifying the server's certificate; use sslmode=verify-full with sslrootcert", ErrPlaintextPostgres, a.host)
		}
	}
	return nil
}

// verifies reports whether a TLS configuration of pgconn checks the server: verify-full checks
// the name and the chain, verify-ca the chain (in VerifyPeerCertificate); require checks
// neither.
func verifies(c *tls.Config) bool {
	return c != nil && (!c.InsecureSkipVerify || c.VerifyPeerCertificate != nil)
}

// local reports whether a host may be reached without verified TLS: a Unix socket always, a
// loopback address when allowed.
func local(host string, allowLoopback bool) bool {
	return strings.HasPrefix(host, "/") || allowLoopback && loopback(host)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
