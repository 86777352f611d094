package api

func init() { registerRoutes(voicemailSelfRoutes) }

// The voicemail boxes of one user (their extensions' boxes), for the user portal and
// softphone clients: the user themself or an admin of the tenant.

func voicemailSelfRoutes(s *Server) []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/tenants/{tenant}/users/{user}/voicemail/boxes", Summary: "The voicemail boxes of a user's extensions with their message counts (self or admin)",
			Auth: Member, Result: List[voicemailBox]{}, Handler: s.listUserVoicemailBoxes},
	}
}

func (s *Server) listUserVoicemailBoxes(r *Request) (any, error) {
	if s.Voicemail == nil {
		return nil, errNoVoicemail
	}
	u, err := s.pathUser(r)
	if err != nil {
		return nil, err
	}
	bs, err := s.DB.VoicemailBoxesOfUser(r.Context(), r.TenantID, u.ID)
	if err != nil {
		return nil, err
	}
	out := make([]voicemailBox, 0, len(bs))
	for _, b := range bs {
		// follow the extension's user (EnsureVoicemailBox moves a box whose extension changed hands)
		if b, err = s.DB.EnsureVoicemailBox(r.Context(), r.TenantID, b.ExtensionID); err != nil {
			return nil, err
		}
		d, err := s.describeBox(r, b)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return List[voicemailBox]{Items: out}, nil
}
