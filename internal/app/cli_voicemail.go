package app

import (
	"bufio"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/privox/privox/internal/filestore"
	"github.com/privox/privox/internal/keys"
	"github.com/privox/privox/internal/store"
	"github.com/privox/privox/internal/voicemail"
)

func init() {
	addCommand(command{"voicemail show", "voicemail show --tenant T --number EXT   (box settings, PIN state and message counts)", runVoicemailShow})
	addCommand(command{"voicemail set", "voicemail set --tenant T --number EXT [--enabled true|false] [--language en|de|tenant] [--max-message-secs S] [--max-messages N] [--retention-days D] [--email-copy true|false] [--email-attach true|false] [--email-delete true|false] [--mwi-unsolicited true|false] [--operator EXT|tenant]   (--operator: the number 0 reaches while leaving a message; tenant: the tenant's)", runVoicemailSet})
	addCommand(command{"voicemail operator", "voicemail operator --tenant T [EXT|none]   (show or set the number callers reach by pressing 0 while leaving a message, for boxes without their own)", runVoicemailOperator})
	addCommand(command{"voicemail deliveries", "voicemail deliveries --tenant T [--state failed|pending|sent|suppressed|dropped]   (e-mail deliveries of voice messages; failed: the relay refused them after the last retry)", runVoicemailDeliveries})
	addCommand(command{"voicemail deliveries retry", "voicemail deliveries retry --tenant T ID   (send a failed delivery again: pending, attempts from zero; a running server sends it within its poll of the queue)", runVoicemailDeliveryRetry})
	addCommand(command{"voicemail pin-reset", "voicemail pin-reset --tenant T --number EXT [-]   (clear the PIN and lift a lock-out; with - a new PIN is read from standard input)", runVoicemailPINReset})
	addCommand(command{"voicemail messages", "voicemail messages --tenant T --number EXT", runVoicemailMessages})
	addCommand(command{"voicemail delete", "voicemail delete --tenant T --number EXT ID", runVoicemailDelete})
}

var vmCLIActor = voicemail.Actor{Name: "cli"}

// voicemailBox opens the voicemail engine and the box of --number.
func (c *cmdCtx) voicemailBox() (*voicemail.Service, store.VoicemailBox, error) {
	t, err := c.tenant()
	if err != nil {
		return nil, store.VoicemailBox{}, err
	}
	num := c.str("number")
	if num == "" {
		return nil, store.VoicemailBox{}, usageErr("--number is required")
	}
	db, err := c.store()
	if err != nil {
		return nil, store.VoicemailBox{}, err
	}
	vault, err := keys.Open(keys.DefaultDir(c.cfg.DataDir))
	if err != nil {
		return nil, store.VoicemailBox{}, err
	}
	files, err := filestore.New(filepath.Join(c.cfg.DataDir, "files"), db, vault)
	if err != nil {
		return nil, store.VoicemailBox{}, err
	}
	vm := voicemail.New(db, files, nil, nil, voicemail.Options{})
	b, err := vm.Box(c.ctx, t.ID, num)
	if errors.Is(err, store.ErrNotFound) {
		return nil, b, fmt.Errorf("tenant %s has no extension %s", t.Name, num)
	}
	return vm, b, err
}

// voicemailErr says which flag a refused setting came from.
func voicemailErr(err error) error {
	var fe *voicemail.FieldError
	if errors.As(err, &fe) {
		return usageErr("--%s: %s", strings.ReplaceAll(fe.Field, "_", "-"), fe.Msg)
	}
	return err
}

type voicemailShow struct {
	store.VoicemailBox
	Summary voicemail.Summary `json:"summary"`
	PINSet  bool              `json:"pin_set"`
	Locked  bool              `json:"locked"`
	Slots   []string          `json:"greetings"`
}

func (c *cmdCtx) showBox(vm *voicemail.Service, b store.VoicemailBox) error {
	out := voicemailShow{VoicemailBox: b, Slots: []string{}}
	var err error
	if out.Summary, err = vm.Summary(c.ctx, b); err != nil {
		return err
	}
	pin, err := c.db.VoicemailPIN(c.ctx, b.TenantID, b.ID)
	if err != nil {
		return err
	}
	out.PINSet, out.Locked = pin.Hash != "", pin.LockedUntil > time.Now().UnixMilli()
	gs, err := c.db.VoicemailGreetings(c.ctx, b.TenantID, b.ID)
	if err != nil {
		return err
	}
	for _, g := range gs {
		out.Slots = append(out.Slots, g.Slot)
	}
	return c.out(out, func(w *tabwriter.Writer) {
		lang := b.Language
		if lang == "" {
			lang = "tenant's"
		}
		fmt.Fprintf(w, "box\t%d (extension %s)\nenabled\t%t\nlanguage\t%s\nmax message\t%d s\nmax messages\t%d\nretention\t%d days\n",
			b.ID, b.Number, b.Enabled, lang, b.MaxMessageSecs, b.MaxMessages, b.RetentionDays)
		fmt.Fprintf(w, "e-mail copy\t%t (attach WAV %t, delete after delivery %t)\n", b.EmailCopy, b.EmailAttach, b.EmailDelete)
		fmt.Fprintf(w, "unsolicited MWI\t%t\n", b.MWIUnsolicited)
		op := b.Operator
		if op == "" {
			op = "tenant's"
		}
		fmt.Fprintf(w, "operator (0)\t%s\n", op)
		fmt.Fprintf(w, "messages\t%d (%d unread)\npin\tset=%t locked=%t\ngreetings\t%s\n", out.Summary.Total, out.Summary.Unread, out.PINSet, out.Locked, strings.Join(out.Slots, ", "))
	})
}

func runVoicemailShow(c *cmdCtx) error {
	vm, b, err := c.voicemailBox()
	if err != nil {
		return err
	}
	return c.showBox(vm, b)
}

func runVoicemailSet(c *cmdCtx) error {
	vm, b, err := c.voicemailBox()
	if err != nil {
		return err
	}
	var set voicemail.Settings
	for flag, dst := range map[string]**bool{"enabled": &set.Enabled, "email-copy": &set.EmailCopy, "email-attach": &set.EmailAttach, "email-delete": &set.EmailDelete, "mwi-unsolicited": &set.MWIUnsolicited} {
		if v := c.str(flag); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return usageErr("--%s is true or false", flag)
			}
			*dst = &on
		}
	}
	if v := c.str("language"); v != "" {
		if v == "tenant" {
			v = ""
		}
		set.Language = &v
	}
	for flag, dst := range map[string]**int{"max-message-secs": &set.MaxMessageSecs, "max-messages": &set.MaxMessages, "retention-days": &set.RetentionDays} {
		if v := c.str(flag); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return usageErr("--%s is a whole number", flag)
			}
			*dst = &n
		}
	}
	if v := c.str("operator"); v != "" {
		if v == "tenant" {
			v = ""
		}
		set.Operator = &v
	}
	if set == (voicemail.Settings{}) {
		return usageErr("nothing to set: give --enabled, --language, --max-message-secs, --max-messages, --retention-days, --email-copy, --email-attach, --email-delete, --mwi-unsolicited or --operator")
	}
	if b, err = vm.Configure(c.ctx, vmCLIActor, b, set); err != nil {
		return voicemailErr(err)
	}
	return c.showBox(vm, b)
}

func runVoicemailPINReset(c *cmdCtx) error {
	vm, b, err := c.voicemailBox()
	if err != nil {
		return err
	}
	pin := ""
	switch {
	case len(c.args) == 1 && c.args[0] == "-":
		line, err := bufio.NewReader(c.env.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return usageErr("no PIN on standard input")
		}
		pin = strings.TrimSpace(line)
		if pin == "" {
			return usageErr("no PIN on standard input")
		}
	case len(c.args) > 0:
		return usageErr("the only argument is - (read the new PIN from standard input); a PIN on the command line would show in the process list")
	}
	if err := vm.SetPIN(c.ctx, vmCLIActor, b, pin); err != nil {
		return voicemailErr(err)
	}
	return c.out(map[string]any{"box": b.ID, "pin_set": pin != ""}, func(w *tabwriter.Writer) {
		if pin == "" {
			fmt.Fprintf(w, "box of %s: PIN cleared, lock-out lifted\n", b.Number)
		} else {
			fmt.Fprintf(w, "box of %s: new PIN set, lock-out lifted\n", b.Number)
		}
	})
}

func runVoicemailMessages(c *cmdCtx) error {
	vm, b, err := c.voicemailBox()
	if err != nil {
		return err
	}
	var all []store.VoicemailMessage
	for p := (store.Page{Limit: 1000}); ; {
		ms, err := vm.Messages(c.ctx, b, p)
		if err != nil {
			return err
		}
		all = append(all, ms...)
		if len(ms) < p.Limit {
			break
		}
		p.After = ms[len(ms)-1].ID
	}
	if all == nil {
		all = []store.VoicemailMessage{}
	}
	return c.out(all, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tRECEIVED\tFROM\tNAME\tSECONDS\tREAD\tURGENT\tEXPIRES")
		for _, m := range all {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%.1f\t%t\t%t\t%s\n", m.ID, time.UnixMilli(m.CreatedAt).UTC().Format(time.RFC3339), m.CallerNumber, m.CallerName,
				float64(m.DurationMS)/1000, m.ReadAt != 0, m.Urgent, time.UnixMilli(m.ExpiresAt).UTC().Format(time.DateOnly))
		}
	})
}

func runVoicemailDelete(c *cmdCtx) error {
	vm, b, err := c.voicemailBox()
	if err != nil {
		return err
	}
	if len(c.args) != 1 {
		return usageErr("the message id is required")
	}
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil {
		return usageErr("the message id is a number")
	}
	if err := vm.Delete(c.ctx, vmCLIActor, b, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("box of %s has no message %d", b.Number, id)
		}
		return err
	}
	return c.out(map[string]any{"deleted": id}, func(w *tabwriter.Writer) { fmt.Fprintf(w, "message %d deleted (file and row)\n", id) })
}

func runVoicemailDeliveries(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	state := c.str("state")
	switch state {
	case "", store.MailPending, store.MailSent, store.MailFailed, store.MailSuppressed, store.MailDropped:
	default:
		return usageErr("--state is failed, pending, sent, suppressed or dropped")
	}
	db, err := c.store()
	if err != nil {
		return err
	}
	var all []store.VoicemailMail
	for p := (store.Page{Limit: 1000}); ; {
		ds, err := db.VoicemailMails(c.ctx, t.ID, state, p)
		if err != nil {
			return err
		}
		all = append(all, ds...)
		if len(ds) < p.Limit || len(all) >= 100000 {
			break
		}
		p.After = ds[len(ds)-1].ID
	}
	if all == nil {
		all = []store.VoicemailMail{}
	}
	return c.out(all, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ID\tMESSAGE\tBOX\tSTATE\tATTEMPTS\tUPDATED\tDETAIL")
		for _, d := range all {
			detail := d.Reason
			if detail == "" {
				detail = d.LastError
			}
			fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%d\t%s\t%s\n", d.ID, d.MessageID, d.BoxID, d.State, d.Attempts, time.UnixMilli(d.UpdatedAt).UTC().Format(time.RFC3339), detail)
		}
	})
}

func runVoicemailDeliveryRetry(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	if len(c.args) != 1 {
		return usageErr("the id of one delivery is required (voicemail deliveries --state failed lists them)")
	}
	id, err := strconv.ParseInt(c.args[0], 10, 64)
	if err != nil || id <= 0 {
		return usageErr("the delivery id is a positive number")
	}
	db, err := c.store()
	if err != nil {
		return err
	}
	vm := voicemail.New(db, nil, nil, nil, voicemail.Options{})
	d, err := vm.RetryMail(c.ctx, t.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("tenant %s has no delivery %d", t.Name, id)
	case errors.Is(err, store.ErrMailNotFailed):
		return fmt.Errorf("delivery %d is %s; only a failed delivery can be retried", id, d.State)
	case err != nil:
		return err
	}
	c.audit(t.ID, "voicemail.mail.retry", "voicemail_mail", d.ID, "message="+strconv.FormatInt(d.MessageID, 10))
	return c.out(d, func(w *tabwriter.Writer) {
		fmt.Fprintf(w, "delivery %d of message %d is %s again: it is sent at the next round of the queue\n", d.ID, d.MessageID, d.State)
	})
}

func runVoicemailOperator(c *cmdCtx) error {
	t, err := c.tenant()
	if err != nil {
		return err
	}
	db, err := c.store()
	if err != nil {
		return err
	}
	vm := voicemail.New(db, nil, nil, nil, voicemail.Options{})
	var v store.VoicemailSettings
	switch len(c.args) {
	case 0:
		v, err = vm.TenantSettings(c.ctx, t.ID)
	case 1:
		op := c.args[0]
		if op == "none" {
			op = ""
		}
		v, err = vm.SetTenantOperator(c.ctx, vmCLIActor, t.ID, op)
	default:
		return usageErr("give one operator number, or none")
	}
	if err != nil {
		return voicemailErr(err)
	}
	return c.out(v, func(w *tabwriter.Writer) {
		op := v.Operator
		if op == "" {
			op = "none (0 is ignored)"
		}
		fmt.Fprintf(w, "operator (0)\t%s\n", op)
	})
}
