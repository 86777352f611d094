package config

// refuseLDAPUntilServerExists refuses the LDAP listener options while Privox has no LDAP server:
// accepting ldap.addr or ldap.ldaps_addr and then listening on nothing would tell the operator
// (and the desk phones) something untrue. When the LDAP server lands, delete this file and its
// one call in Validate, and give Default its listeners back (":3890", ":6360").
func refuseLDAPUntilServerExists(c Config, add func(key, format string, args ...any)) {
	if c.LDAP.Addr != "" {
		add("ldap.addr", "Privox has no LDAP server yet; remove this option (nothing would listen on %q)", c.LDAP.Addr)
	}
	if c.LDAP.LDAPSAddr != "" {
		add("ldap.ldaps_addr", "Privox has no LDAP server yet; remove this option (nothing would listen on %q)", c.LDAP.LDAPSAddr)
	}
}
