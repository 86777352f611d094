package voicemail

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/privox/privox/internal/mail"
	"github.com/privox/privox/internal/store"
)

// Voicemail to e-mail. A box with e-mail copies on gets a pending delivery row in the same
// transaction that stores a message, so a message is never stored without it and a restart
// loses none. The mailer works the queue: it sends the message (the WAV attached, or a notice
// without audio) in the owner's language to the owner's address through the tenant's or the
// installation's relay, retries with exponential back-off, and marks the delivery failed after
// the last try, the message staying in its box. While the owner's processing is restricted or
// the owner objected to e-mail copies, nothing is sent and the delivery records why. Nothing
// is sent while the outbound flow "smtp_relay" is off.

// MailOptions wire the mailer.
type MailOptions struct {
	// FlowOn reports whether the outbound flow is on (switched on and a relay configured).
	FlowOn func() bool
	// Relay returns the relay for a tenant; ok false when the tenant has none.
	Relay func(ctx context.Context, tenantID int64) (r mail.Relay, ok bool, err error)
	// Dial opens relay connections (bound to the declared flow).
	Dial mail.DialFunc
	// Check asks the privacy engine whether the person's data may be mailed (nil: allowed);
	// an error matching privacy.ErrRestricted suppresses the delivery with its text.
	Check func(ctx context.Context, tenantID, userID int64) error
	// IsRefusal tells a refusal of Check from a failure to check (which is retried).
	IsRefusal func(error) bool
	// Attempts, First and Max are the retry back-off (defaults 8, 1m, 1h).
	Attempts   int
	First, Max time.Duration
	// Batch bounds the deliveries of one round (default 20); Poll is the longest wait
	// between rounds (default 30 s).
	Batch int
	Poll  time.Duration
}

// Mailer works the delivery queue.
type Mailer struct {
	s    *Service
	opt  MailOptions
	wake chan struct{}
	mu   sync.Mutex // one round at a time
}

// UseMail makes the mailer of the service; Run works its queue.
func (s *Service) UseMail(opt MailOptions) *Mailer {
	if opt.Attempts <= 0 {
		opt.Attempts = 8
	}
	if opt.First <= 0 {
		opt.First = time.Minute
	}
	if opt.Max < opt.First {
		opt.Max = max(time.Hour, opt.First)
	}
	if opt.Batch <= 0 {
		opt.Batch = 20
	}
	if opt.Poll <= 0 {
		opt.Poll = 30 * time.Second
	}
	m := &Mailer{s: s, opt: opt, wake: make(chan struct{}, 1)}
	s.mailer.Store(m)
	return m
}

// flowOn reports whether deliveries may be queued and sent.
func (m *Mailer) flowOn() bool { return m != nil && m.opt.FlowOn != nil && m.opt.FlowOn() }

// Wake makes Run look at the queue now.
func (m *Mailer) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Backoff is the wait before retry n (1-based): First·2^(n-1), at most Max.
func (m *Mailer) Backoff(n int) time.Duration {
	d := m.opt.First
	for i := 1; i < n && d < m.opt.Max; i++ {
		d *= 2
	}
	return min(d, m.opt.Max)
}

// Run works the queue until ctx ends.
func (m *Mailer) Run(ctx context.Context) {
	for {
		m.Round(ctx)
		wait := m.opt.Poll
		if next, err := m.s.db.NextVoicemailMailAt(ctx); err == nil && next > 0 {
			wait = min(wait, max(0, time.Until(time.UnixMilli(next))))
		}
		t := time.NewTimer(max(wait, 50*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-m.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Round sends the deliveries that are due, at most Batch of them, and returns how many it
// finished or rescheduled.
func (m *Mailer) Round(ctx context.Context) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.flowOn() {
		return 0
	}
	due, err := m.s.db.DueVoicemailMail(ctx, m.s.Now().UnixMilli(), m.opt.Batch)
	if err != nil {
		if ctx.Err() == nil {
			m.s.log.Warn("voicemail mail queue unreadable", "err", err)
		}
		return 0
	}
	n := 0
	for _, d := range due {
		if ctx.Err() != nil || !m.flowOn() {
			break
		}
		m.deliver(ctx, d)
		n++
	}
	return n
}

// finish records the outcome of one delivery (audited when it ends it) and logs it without
// address or content.
func (m *Mailer) finish(ctx context.Context, d store.VoicemailMail, action string) {
	ctx = context.WithoutCancel(ctx)
	log := m.s.log.With("delivery", d.ID, "tenant", d.TenantID, "message", d.MessageID, "state", d.State, "attempts", d.Attempts)
	if err := m.s.db.FinishVoicemailMail(ctx, d); err != nil {
		log.Warn("voicemail mail outcome not stored", "err", err)
		return
	}
	detail := "message=" + itoa(d.MessageID)
	if d.Reason != "" {
		detail += " reason=" + d.Reason
	}
	switch d.State {
	case store.MailPending:
		log.Info("voicemail mail retry scheduled", "err", d.LastError, "next_at", d.NextAt)
		return
	case store.MailFailed:
		log.Warn("voicemail mail failed", "err", d.LastError)
		detail += " error=" + d.LastError
	default:
		log.Info("voicemail mail " + d.State)
	}
	if action != "" {
		if err := m.s.audit(ctx, Actor{Name: "system"}, d.TenantID, action, "voicemail_mail", itoa(d.ID), detail); err != nil {
			log.Warn("voicemail mail audit failed", "err", err)
		}
	}
}

func (m *Mailer) deliver(ctx context.Context, d store.VoicemailMail) {
	s := m.s
	end := func(state, reason, action string) {
		d.State, d.Reason = state, reason
		m.finish(ctx, d, action)
	}
	b, err := s.db.VoicemailBox(ctx, d.TenantID, d.BoxID)
	if errors.Is(err, store.ErrNotFound) {
		end(store.MailDropped, "the mailbox was deleted", "voicemail.mail.dropped")
		return
	}
	if err != nil {
		m.retry(ctx, d, err, false)
		return
	}
	msg, err := s.db.VoicemailMessage(ctx, d.TenantID, d.MessageID)
	if errors.Is(err, store.ErrNotFound) {
		end(store.MailDropped, "the message was deleted before it was sent", "voicemail.mail.dropped")
		return
	}
	if err != nil {
		m.retry(ctx, d, err, false)
		return
	}
	if b.UserID == nil || d.UserID == nil || *b.UserID != *d.UserID {
		end(store.MailDropped, "the mailbox has another owner now", "voicemail.mail.dropped")
		return
	}
	uid := *d.UserID
	if m.opt.Check != nil {
		if err := m.opt.Check(ctx, d.TenantID, uid); err != nil {
			if m.opt.IsRefusal != nil && m.opt.IsRefusal(err) {
				end(store.MailSuppressed, err.Error(), "voicemail.mail.suppressed")
				return
			}
			m.retry(ctx, d, err, false)
			return
		}
	}
	objected, err := s.db.MailObjection(ctx, d.TenantID, uid)
	if err != nil {
		m.retry(ctx, d, err, false)
		return
	}
	if objected {
		end(store.MailSuppressed, "the person objected to e-mail copies", "voicemail.mail.suppressed")
		return
	}
	u, err := s.db.User(ctx, d.TenantID, uid)
	if err != nil {
		m.retry(ctx, d, err, false)
		return
	}
	if strings.TrimSpace(u.Email) == "" || !strings.Contains(u.Email, "@") {
		end(store.MailSuppressed, "the mailbox owner has no e-mail address", "voicemail.mail.suppressed")
		return
	}
	relay, ok, err := m.opt.Relay(ctx, d.TenantID)
	if err != nil {
		m.retry(ctx, d, err, false)
		return
	}
	if !ok {
		m.retry(ctx, d, errors.New("no SMTP relay is configured for the tenant"), false)
		return
	}
	out := composeMail(msg, b, u.Language)
	out.To = u.Email
	if b.EmailAttach {
		wav, _, err := s.files.Get(ctx, d.TenantID, msg.FileID)
		if err != nil {
			m.retry(ctx, d, fmt.Errorf("read the recording: %w", err), false)
			return
		}
		out.Attachment, out.AttachmentName, out.AttachmentType = wav, attachmentName(msg), "audio/wav"
	}
	if err := mail.Send(ctx, m.opt.Dial, relay, out); err != nil {
		var me *mail.Error
		m.retry(ctx, d, err, errors.As(err, &me) && me.Permanent)
		return
	}
	end(store.MailSent, "", "voicemail.mail.sent")
	if b.EmailDelete {
		// The e-mail holds the message now: it leaves the box, file and row together.
		if err := s.Delete(context.WithoutCancel(ctx), Actor{Name: "system"}, b, msg.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("message not deleted after its e-mail", "delivery", d.ID, "tenant", d.TenantID, "message", msg.ID, "err", err)
		}
	}
}

// retry schedules the next attempt, or marks the delivery failed after the last one (or at
// once for a permanent refusal). The message stays in its box either way.
func (m *Mailer) retry(ctx context.Context, d store.VoicemailMail, err error, permanent bool) {
	d.Attempts++
	d.LastError = mail.Redact(err.Error())
	if permanent || d.Attempts >= m.opt.Attempts {
		d.State = store.MailFailed
		m.finish(ctx, d, "voicemail.mail.failed")
		return
	}
	d.State = store.MailPending
	d.NextAt = m.s.Now().Add(m.Backoff(d.Attempts)).UnixMilli()
	m.finish(ctx, d, "")
}

func attachmentName(msg store.VoicemailMessage) string {
	return "voicemail-" + time.UnixMilli(msg.CreatedAt).UTC().Format("20060102-150405") + ".wav"
}

// composeMail writes the subject and text in the owner's language (German or English).
func composeMail(msg store.VoicemailMessage, b store.VoicemailBox, lang string) mail.Message {
	from := oneLine(msg.CallerNumber)
	if from == "" {
		from = map[bool]string{true: "unbekannt", false: "unknown"}[lang == "de"]
	}
	if msg.CallerName != "" {
		from = oneLine(msg.CallerName) + " (" + from + ")"
	}
	at := time.UnixMilli(msg.CreatedAt).UTC()
	secs := (msg.DurationMS + 500) / 1000
	if lang == "de" {
		text := fmt.Sprintf("Neue Sprachnachricht für %s\r\n\r\nVon: %s\r\nZeit: %s UTC\r\nDauer: %d s\r\n", b.Number, from, at.Format("02.01.2006 15:04"), secs)
		if b.EmailAttach {
			text += "\r\nDie Nachricht ist als WAV-Datei angehängt.\r\n"
		} else {
			text += "\r\nSie können die Nachricht am Telefon oder im Portal abhören.\r\n"
		}
		return mail.Message{Subject: "Neue Sprachnachricht von " + from, Text: text}
	}
	text := fmt.Sprintf("New voice message for %s\r\n\r\nFrom: %s\r\nTime: %s UTC\r\nDuration: %d s\r\n", b.Number, from, at.Format("2006-01-02 15:04"), secs)
	if b.EmailAttach {
		text += "\r\nThe message is attached as a WAV file.\r\n"
	} else {
		text += "\r\nListen to it on your phone or in the portal.\r\n"
	}
	return mail.Message{Subject: "New voice message from " + from, Text: text}
}

// oneLine keeps a caller's number or name to one line of printable text for a header.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len([]rune(s)) > 80 {
		s = string([]rune(s)[:80])
	}
	return s
}

// RetryMail puts a failed delivery of a tenant back in the queue with its attempts counted
// from zero, due now, and wakes the mailer (store.ErrNotFound: no such delivery of the
// tenant; store.ErrMailNotFailed: the delivery is not failed).
func (s *Service) RetryMail(ctx context.Context, tenantID, id int64) (store.VoicemailMail, error) {
	d, err := s.db.RetryVoicemailMail(ctx, tenantID, id, s.Now().UnixMilli())
	if err != nil {
		return d, err
	}
	if m := s.mailer.Load(); m != nil {
		m.Wake()
	}
	return d, nil
}
