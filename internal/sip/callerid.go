package sip

// Caller-ID names: a caller without a display name of its own is shown to the called phone
// (the From of the B leg) and in the callee's call journal under the name the directory has
// for the caller's number, as the callee sees the directory (their personal entries
// included). The lookup is in memory and never blocks the call on the store.

// CallerNames looks a calling number up in the directory of a tenant.
type CallerNames interface {
	CallerName(tenantID int64, number string, calleeUserID int64) (string, bool)
}

// callerDisplay returns the name the callee is shown for the caller.
func (c *call) callerDisplay(callee *account) string {
	if c.caller == nil {
		return ""
	}
	if c.caller.display != "" || c.s.names == nil {
		return c.caller.display
	}
	var uid int64
	if callee != nil {
		uid = callee.userID
	}
	if name, ok := c.s.names.CallerName(c.tenant.ID, c.caller.number, uid); ok {
		return name
	}
	return ""
}
