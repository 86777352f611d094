package prompts

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Languages are the languages of the system prompt set.
var Languages = []string{"en", "de"}

// voices are the espeak-ng voices that speak each language.
var voices = map[string]string{"en": "en-us", "de": "de"}

// Names of the prompts applications use most; the full set is Names().
const (
	Welcome         = "welcome"
	ThankYouCalling = "thank-you-for-calling"
	MenuFor         = "menu-for"   // "For" … (option name) …
	MenuPress       = "menu-press" // … "press" (digit)
	MenuOr          = "menu-or"
	EnterExtension  = "enter-extension"
	DialByExtension = "dial-by-extension"
	PleaseHold      = "please-hold"
	Connecting      = "connecting"
	InvalidChoice   = "invalid-choice"
	InvalidExt      = "invalid-extension"
	NoInput         = "no-input"
	TryAgain        = "try-again"
	Goodbye         = "goodbye"
	OfficeClosed    = "office-closed"
	CallBackHours   = "call-back-in-hours"
	Holiday         = "holiday-closed"
	AllBusy         = "all-busy"
	NotAvailable    = "not-available"
	RecordingNotice = "recording-notice"

	VMLeaveMessage    = "vm-leave-message"
	VMFinishHash      = "vm-finish-hash"
	VMYouHave         = "vm-you-have"
	VMOneNewMessage   = "vm-one-new-message"
	VMNewMessages     = "vm-new-messages"
	VMOneSavedMessage = "vm-one-saved-message"
	VMSavedMessages   = "vm-saved-messages"
	VMNoNewMessages   = "vm-no-new-messages"
	VMEnterMailbox    = "vm-enter-mailbox"
	VMEnterPIN        = "vm-enter-pin"
	VMWrongPIN        = "vm-wrong-pin"
	VMMessage         = "vm-message"
	VMFirstMessage    = "vm-first-message"
	VMNextMessage     = "vm-next-message"
	VMNoMoreMessages  = "vm-no-more-messages"
	VMMessageOptions  = "vm-message-options"
	VMMainMenu        = "vm-main-menu"
	VMMessageSaved    = "vm-message-saved"
	VMMessageDeleted  = "vm-message-deleted"
	VMRecordGreeting  = "vm-record-greeting"
	VMGreetingSaved   = "vm-greeting-saved"
	VMMailboxFull     = "vm-mailbox-full"
	VMPersonAtExt     = "vm-person-at-extension"
	VMIsUnavailable   = "vm-is-unavailable"
	VMIsBusy          = "vm-is-busy"
	VMGreetingsMenu   = "vm-greetings-menu"
	VMRecordBusy      = "vm-record-busy"
	VMRecordName      = "vm-record-name"
	VMEnterNewPIN     = "vm-enter-new-pin"
	VMRepeatPIN       = "vm-repeat-pin"
	VMPINChanged      = "vm-pin-changed"
	VMPINNotChanged   = "vm-pin-not-changed"
	VMNoCallBack      = "vm-no-call-back"

	Star = "key-star"
	Hash = "key-hash"

	// MusicOnHold is what a held caller hears: audio.HoldMusic unless the tenant uploaded
	// its own. It is not speech, so Generate leaves it alone and Names does not list it.
	MusicOnHold = "music-on-hold"
)

// phrases are the texts of the phrase prompts.
var phrases = map[string][2]string{ // name → {en, de}
	Welcome:           {"Welcome.", "Willkommen."},
	ThankYouCalling:   {"Thank you for calling.", "Vielen Dank für Ihren Anruf."},
	"good-morning":    {"Good morning.", "Guten Morgen."},
	"good-afternoon":  {"Good afternoon.", "Guten Tag."},
	"good-evening":    {"Good evening.", "Guten Abend."},
	MenuFor:           {"For", "Für"},
	MenuPress:         {"press", "drücken Sie die"},
	MenuOr:            {"or", "oder"},
	"menu-operator":   {"To speak to the operator, press 0.", "Für die Zentrale drücken Sie die 0."},
	"menu-repeat":     {"To hear these options again, press star.", "Um diese Auswahl noch einmal zu hören, drücken Sie die Stern-Taste."},
	EnterExtension:    {"Please enter the extension number.", "Bitte geben Sie die Durchwahl ein."},
	DialByExtension:   {"If you know the extension of the person you want to reach, you can dial it now.", "Wenn Sie die Durchwahl Ihres Gesprächspartners kennen, können Sie sie jetzt wählen."},
	PleaseHold:        {"Please hold.", "Bitte warten Sie."},
	Connecting:        {"Please hold while we connect your call.", "Bitte warten Sie, Sie werden verbunden."},
	"transferring":    {"Transferring your call.", "Ihr Anruf wird weitergeleitet."},
	InvalidChoice:     {"Invalid choice.", "Ungültige Auswahl."},
	InvalidExt:        {"That extension is not valid.", "Diese Durchwahl ist ungültig."},
	NoInput:           {"We did not receive your selection.", "Wir haben keine Eingabe erhalten."},
	TryAgain:          {"Please try again.", "Bitte versuchen Sie es noch einmal."},
	Goodbye:           {"Goodbye.", "Auf Wiederhören."},
	"thank-you":       {"Thank you.", "Vielen Dank."},
	OfficeClosed:      {"Our office is closed at the moment.", "Unser Büro ist zurzeit nicht besetzt."},
	CallBackHours:     {"Please call again during our business hours.", "Bitte rufen Sie während unserer Geschäftszeiten wieder an."},
	Holiday:           {"Our office is closed today for a holiday.", "Unser Büro ist heute wegen eines Feiertags geschlossen."},
	AllBusy:           {"All our lines are busy at the moment.", "Zurzeit sind alle Leitungen belegt."},
	NotAvailable:      {"The person you are calling is not available.", "Ihr Gesprächspartner ist zurzeit nicht erreichbar."},
	RecordingNotice:   {"This call may be recorded.", "Dieses Gespräch kann aufgezeichnet werden."},
	"extension":       {"extension", "Durchwahl"},
	"number":          {"number", "Nummer"},
	VMLeaveMessage:    {"Please leave a message after the tone.", "Bitte hinterlassen Sie eine Nachricht nach dem Signalton."},
	VMFinishHash:      {"When you are finished, press hash or hang up.", "Wenn Sie fertig sind, drücken Sie die Raute-Taste oder legen Sie auf."},
	VMYouHave:         {"You have", "Sie haben"},
	VMOneNewMessage:   {"one new message.", "eine neue Nachricht."},
	VMNewMessages:     {"new messages.", "neue Nachrichten."},
	VMOneSavedMessage: {"one saved message.", "eine gespeicherte Nachricht."},
	VMSavedMessages:   {"saved messages.", "gespeicherte Nachrichten."},
	VMNoNewMessages:   {"You have no new messages.", "Sie haben keine neuen Nachrichten."},
	VMEnterMailbox:    {"Please enter your mailbox number, followed by hash.", "Bitte geben Sie Ihre Mailbox-Nummer ein, gefolgt von der Raute-Taste."},
	VMEnterPIN:        {"Please enter your PIN, followed by hash.", "Bitte geben Sie Ihre PIN ein, gefolgt von der Raute-Taste."},
	VMWrongPIN:        {"That PIN is not correct.", "Diese PIN ist nicht richtig."},
	VMMessage:         {"Message", "Nachricht"},
	VMFirstMessage:    {"First message.", "Erste Nachricht."},
	VMNextMessage:     {"Next message.", "Nächste Nachricht."},
	VMNoMoreMessages:  {"No more messages.", "Keine weiteren Nachrichten."},
	VMMessageOptions:  {"To play it again, press 1. To save it, 2. To delete it, 3. To call back, 5. For the next message, 6.", "Nochmal hören: die 1. Speichern: die 2. Löschen: die 3. Zurückrufen: die 5. Nächste Nachricht: die 6."},
	VMMainMenu:        {"To listen to your messages, press 1. For your greetings, press 3. To change your PIN, press 4. To end, press star.", "Um Ihre Nachrichten abzuhören, drücken Sie die 1. Für Ihre Ansagen drücken Sie die 3. Um Ihre PIN zu ändern, drücken Sie die 4. Zum Beenden drücken Sie die Stern-Taste."},
	VMGreetingsMenu:   {"To record the greeting for when you are not available, press 1. For when you are busy, press 2. To record your name, press 3. To go back, press star.", "Um die Ansage für Ihre Abwesenheit aufzunehmen, drücken Sie die 1. Für besetzt drücken Sie die 2. Um Ihren Namen aufzunehmen, drücken Sie die 3. Zurück mit der Stern-Taste."},
	VMRecordBusy:      {"Please record the greeting for when you are busy after the tone. When you are finished, press hash.", "Bitte sprechen Sie die Ansage für besetzt nach dem Signalton. Wenn Sie fertig sind, drücken Sie die Raute-Taste."},
	VMRecordName:      {"Please say your name after the tone, then press hash.", "Bitte sagen Sie nach dem Signalton Ihren Namen und drücken Sie dann die Raute-Taste."},
	VMEnterNewPIN:     {"Please enter your new PIN, followed by hash.", "Bitte geben Sie Ihre neue PIN ein, gefolgt von der Raute-Taste."},
	VMRepeatPIN:       {"Please enter the new PIN again, followed by hash.", "Bitte geben Sie die neue PIN noch einmal ein, gefolgt von der Raute-Taste."},
	VMPINChanged:      {"Your PIN has been changed.", "Ihre PIN wurde geändert."},
	VMPINNotChanged:   {"Your PIN has not been changed.", "Ihre PIN wurde nicht geändert."},
	VMNoCallBack:      {"This caller's number is not known.", "Die Nummer dieses Anrufers ist nicht bekannt."},
	VMMessageSaved:    {"Message saved.", "Nachricht gespeichert."},
	VMMessageDeleted:  {"Message deleted.", "Nachricht gelöscht."},
	VMRecordGreeting:  {"Please record your greeting after the tone. When you are finished, press hash.", "Bitte sprechen Sie Ihre Ansage nach dem Signalton. Wenn Sie fertig sind, drücken Sie die Raute-Taste."},
	VMGreetingSaved:   {"Your greeting has been saved.", "Ihre Ansage wurde gespeichert."},
	VMMailboxFull:     {"This mailbox is full.", "Diese Mailbox ist voll."},
	VMPersonAtExt:     {"The person at extension", "Der Teilnehmer mit der Durchwahl"},
	VMIsUnavailable:   {"is not available.", "ist nicht erreichbar."},
	VMIsBusy:          {"is on the phone.", "telefoniert gerade."},
	Star:              {"star", "Stern"},
	Hash:              {"hash", "Raute"},
}

var (
	enOnes = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	enTens = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	deOnes = []string{"null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun",
		"zehn", "elf", "zwölf", "dreizehn", "vierzehn", "fünfzehn", "sechzehn", "siebzehn", "achtzehn", "neunzehn"}
	deUnits = []string{"", "ein", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"}
	deTens  = []string{"", "", "zwanzig", "dreißig", "vierzig", "fünfzig", "sechzig", "siebzig", "achtzig", "neunzig"}
)

func numberWord(lang string, n int) string {
	if lang == "de" {
		switch {
		case n < 20:
			return deOnes[n]
		case n%10 == 0:
			return deTens[n/10]
		}
		return deUnits[n%10] + "und" + deTens[n/10]
	}
	switch {
	case n < 20:
		return enOnes[n]
	case n%10 == 0:
		return enTens[n/10]
	}
	return enTens[n/10] + "-" + enOnes[n%10]
}

// Text returns what a prompt says in a language.
func Text(lang, name string) (string, bool) {
	li := langIndex(lang)
	if li < 0 {
		return "", false
	}
	if p, ok := phrases[name]; ok {
		return p[li], true
	}
	if name == MusicOnHold {
		return "(music)", true
	}
	var n int
	switch {
	case scan(name, "num-", &n) && n >= 0 && n < 100:
		return numberWord(lang, n), true
	case scan(name, "hundred-", &n) && n >= 1 && n <= 9:
		if lang == "de" {
			return deUnits[n] + "hundert", true
		}
		return enOnes[n] + " hundred", true
	case scan(name, "thousand-", &n) && n >= 1 && n <= 9:
		if lang == "de" {
			return deUnits[n] + "tausend", true
		}
		return enOnes[n] + " thousand", true
	}
	return "", false
}

func scan(name, prefix string, n *int) bool {
	if len(name) <= len(prefix) || name[:len(prefix)] != prefix {
		return false
	}
	v, err := strconv.Atoi(name[len(prefix):])
	if err != nil || strconv.Itoa(v) != name[len(prefix):] {
		return false
	}
	*n = v
	return true
}

func langIndex(lang string) int {
	for i, l := range Languages {
		if l == lang {
			return i
		}
	}
	return -1
}

// Names lists every spoken prompt of the system set, sorted (MusicOnHold is not spoken).
func Names() []string {
	var out []string
	for n := range phrases {
		out = append(out, n)
	}
	for i := 0; i < 100; i++ {
		out = append(out, "num-"+strconv.Itoa(i))
	}
	for i := 1; i <= 9; i++ {
		out = append(out, "hundred-"+strconv.Itoa(i), "thousand-"+strconv.Itoa(i))
	}
	sort.Strings(out)
	return out
}

// Known reports whether lang and name name a prompt of the system set.
func Known(lang, name string) bool {
	_, ok := Text(lang, name)
	return ok
}

// CustomPrefix starts the names of a tenant's own prompts, which have no system version
// ("custom-sales", "custom-greeting-night"): a menu's greeting or the name of an option.
const CustomPrefix = "custom-"

// IsCustom reports whether name is a well-formed custom prompt name: CustomPrefix and 1 to 40
// lower-case letters, digits and dashes.
func IsCustom(name string) bool {
	rest, ok := strings.CutPrefix(name, CustomPrefix)
	if !ok || len(rest) == 0 || len(rest) > 40 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Valid reports whether a tenant may have a prompt lang/name: a system prompt or a custom one,
// in one of the Languages.
func Valid(lang, name string) bool {
	return Known(lang, name) || (langIndex(lang) >= 0 && IsCustom(name))
}

// Number returns the prompts that say n (0 to 9999) in a language.
func Number(lang string, n int) ([]string, error) {
	if n < 0 || n > 9999 {
		return nil, fmt.Errorf("prompts: number %d out of range 0-9999", n)
	}
	if n < 100 {
		return []string{"num-" + strconv.Itoa(n)}, nil
	}
	var out []string
	if t := n / 1000; t > 0 {
		out = append(out, "thousand-"+strconv.Itoa(t))
	}
	if h := n / 100 % 10; h > 0 {
		out = append(out, "hundred-"+strconv.Itoa(h))
	}
	if r := n % 100; r > 0 {
		out = append(out, "num-"+strconv.Itoa(r))
	}
	return out, nil
}

// Digits returns the prompts that read a key sequence digit by digit ("0"-"9", "*", "#").
func Digits(keys string) ([]string, error) {
	var out []string
	for _, k := range keys {
		switch {
		case k >= '0' && k <= '9':
			out = append(out, "num-"+string(k))
		case k == '*':
			out = append(out, Star)
		case k == '#':
			out = append(out, Hash)
		default:
			return nil, fmt.Errorf("prompts: cannot say key %q", k)
		}
	}
	return out, nil
}
