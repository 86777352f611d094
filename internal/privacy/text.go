package privacy

import (
	"fmt"

	"github.com/privox/privox/internal/datacat"
)

// Languages the generated documents come in.
var Languages = []string{"en", "de"}

// The wording of the generated documents. English descriptions of categories come from the
// registry (datacat.Description); everything else a document says per category is here, in
// every language, and a test fails when a category or flow lacks a text.

var categoryNames = map[string]map[datacat.Category]string{
	"en": {
		datacat.Personal: "Personal data", datacat.Credentials: "Credentials", datacat.Profile: "Profile and settings",
		datacat.Contacts: "Contacts", datacat.UserContent: "Content", datacat.Connection: "Connection data",
		datacat.Presence: "Presence", datacat.Traffic: "Traffic data (call detail records)", datacat.Usage: "Call journal",
		datacat.Billing: "Billing data", datacat.AppLogs: "Application logs", datacat.DebugTraces: "Debug traces",
		datacat.Backups: "Backups", datacat.UpdateLogs: "Update checks", datacat.DirectoryQueries: "Directory searches",
		datacat.TenantAdmin: "Tenant administration", datacat.Audit: "Audit log", datacat.Configuration: "Configuration",
		datacat.Statistics: "Statistics",
	},
	"de": {
		datacat.Personal: "Stammdaten", datacat.Credentials: "Zugangsdaten", datacat.Profile: "Profil und Einstellungen",
		datacat.Contacts: "Kontakte", datacat.UserContent: "Inhalte", datacat.Connection: "Verbindungsdaten",
		datacat.Presence: "Präsenz", datacat.Traffic: "Verkehrsdaten (Verbindungsnachweise)", datacat.Usage: "Anrufliste",
		datacat.Billing: "Abrechnungsdaten", datacat.AppLogs: "Anwendungsprotokolle", datacat.DebugTraces: "Diagnose-Mitschnitte",
		datacat.Backups: "Datensicherungen", datacat.UpdateLogs: "Update-Prüfungen", datacat.DirectoryQueries: "Verzeichnissuchen",
		datacat.TenantAdmin: "Mandantenverwaltung", datacat.Audit: "Prüfprotokoll", datacat.Configuration: "Konfiguration",
		datacat.Statistics: "Statistik",
	},
}

var categoryDescDE = map[datacat.Category]string{
	datacat.Personal:         "Name, E-Mail-Adresse, Telefonnummern, Anzeigename, Anschrift",
	datacat.Credentials:      "Passwort-Hashes (argon2id), SIP-Digest-Geheimnisse (HA1), Hashes von Voicemail-PINs, API-Tokens, Sitzungen",
	datacat.Profile:          "Rufumleitungen, Nicht-stören, Sprachmenü- und Diensteinstellungen",
	datacat.Contacts:         "Persönliche, Gruppen- und Firmentelefonbücher",
	datacat.UserContent:      "Sprachnachrichten, Ansagen, Faxe, Gesprächsaufzeichnungen, Sofortnachrichten, hochgeladene Medien",
	datacat.Connection:       "IP-Adressen, SIP-Kontakte, Endgerätekennungen (User-Agent, Gerätekennung)",
	datacat.Presence:         "Präsenz- und Aufenthaltsstatus",
	datacat.Traffic:          "Verbindungsnachweise: Rufnummern, Zeitpunkt, Dauer, Ende-Grund",
	datacat.Usage:            "Die eigene Anrufliste der Nutzerin oder des Nutzers",
	datacat.Billing:          "Bewertete Verbindungsnachweise mit Kosten, Rechnungen",
	datacat.AppLogs:          "Anwendungsprotokolle",
	datacat.DebugTraces:      "SIP- und RTP-Mitschnitte im Diagnosemodus",
	datacat.Backups:          "Verschlüsselte Datensicherungen",
	datacat.UpdateLogs:       "Update-Prüfungen: IP-Adresse, Zeitpunkt, Gerätetyp, Version",
	datacat.DirectoryQueries: "Suchanfragen an das Verzeichnis und ihre Ergebnisse (nur anonyme Zähler werden gespeichert)",
	datacat.TenantAdmin:      "Registrierung des Mandanten und administrativer Ansprechpartner",
	datacat.Audit:            "Prüfprotokoll der Zugriffe auf Inhalte und der Verwaltungsänderungen",
	datacat.Configuration:    "System- und Mandantenkonfiguration ohne personenbezogene Daten",
	datacat.Statistics:       "Anonyme Summen (Anrufe je Stunde, je Leitung)",
}

var dataSubjects = map[string]map[datacat.Category]string{
	"en": {
		datacat.Personal: "users", datacat.Credentials: "users", datacat.Profile: "users", datacat.Contacts: "people in phonebooks",
		datacat.UserContent: "users and the people who leave them messages, fax them or are recorded with them",
		datacat.Connection:  "users", datacat.Presence: "users", datacat.Traffic: "users and their call partners",
		datacat.Usage: "users and their call partners", datacat.Billing: "users and their call partners",
		datacat.AppLogs: "users and callers named in log lines", datacat.DebugTraces: "users and callers in traced calls",
		datacat.Backups: "everyone whose data is backed up", datacat.UpdateLogs: "operators of the installation",
		datacat.DirectoryQueries: "users who search", datacat.TenantAdmin: "tenant administrators",
		datacat.Audit: "users and administrators", datacat.Configuration: "none", datacat.Statistics: "none (anonymous)",
	},
	"de": {
		datacat.Personal: "Nutzer", datacat.Credentials: "Nutzer", datacat.Profile: "Nutzer", datacat.Contacts: "Personen in Telefonbüchern",
		datacat.UserContent: "Nutzer und Personen, die ihnen Nachrichten hinterlassen, faxen oder mit ihnen aufgezeichnet werden",
		datacat.Connection:  "Nutzer", datacat.Presence: "Nutzer", datacat.Traffic: "Nutzer und ihre Gesprächspartner",
		datacat.Usage: "Nutzer und ihre Gesprächspartner", datacat.Billing: "Nutzer und ihre Gesprächspartner",
		datacat.AppLogs: "in Protokollzeilen genannte Nutzer und Anrufer", datacat.DebugTraces: "Nutzer und Anrufer in mitgeschnittenen Gesprächen",
		datacat.Backups: "alle, deren Daten gesichert werden", datacat.UpdateLogs: "Betreiber der Installation",
		datacat.DirectoryQueries: "suchende Nutzer", datacat.TenantAdmin: "Administratoren des Mandanten",
		datacat.Audit: "Nutzer und Administratoren", datacat.Configuration: "keine", datacat.Statistics: "keine (anonym)",
	},
}

var legalBasis = map[string]map[datacat.Category]string{
	"en": {
		datacat.Personal: "contract (Art. 6(1)(b))", datacat.Credentials: "contract (Art. 6(1)(b)); security (Art. 32)",
		datacat.Profile: "contract (Art. 6(1)(b))", datacat.Contacts: "contract (Art. 6(1)(b)); legitimate interest (Art. 6(1)(f))",
		datacat.UserContent: "contract (Art. 6(1)(b)); recordings: consent or legal obligation where required",
		datacat.Connection:  "contract (Art. 6(1)(b))", datacat.Presence: "contract (Art. 6(1)(b))",
		datacat.Traffic: "contract (Art. 6(1)(b)); legitimate interest in operation and fraud prevention (Art. 6(1)(f))",
		datacat.Usage:   "contract (Art. 6(1)(b))", datacat.Billing: "contract (Art. 6(1)(b)); legal obligation (Art. 6(1)(c))",
		datacat.AppLogs: "legitimate interest in secure operation (Art. 6(1)(f))", datacat.DebugTraces: "legitimate interest in troubleshooting (Art. 6(1)(f))",
		datacat.Backups: "legitimate interest in availability (Art. 6(1)(f)); Art. 32", datacat.UpdateLogs: "legitimate interest (Art. 6(1)(f))",
		datacat.DirectoryQueries: "contract (Art. 6(1)(b))", datacat.TenantAdmin: "contract (Art. 6(1)(b))",
		datacat.Audit: "legal obligation and accountability (Art. 5(2), Art. 6(1)(c))", datacat.Configuration: "not applicable",
		datacat.Statistics: "not applicable (anonymous)",
	},
	"de": {
		datacat.Personal: "Vertrag (Art. 6 Abs. 1 lit. b)", datacat.Credentials: "Vertrag (Art. 6 Abs. 1 lit. b); Sicherheit (Art. 32)",
		datacat.Profile: "Vertrag (Art. 6 Abs. 1 lit. b)", datacat.Contacts: "Vertrag (Art. 6 Abs. 1 lit. b); berechtigtes Interesse (Art. 6 Abs. 1 lit. f)",
		datacat.UserContent: "Vertrag (Art. 6 Abs. 1 lit. b); Aufzeichnungen: Einwilligung oder gesetzliche Pflicht, wo erforderlich",
		datacat.Connection:  "Vertrag (Art. 6 Abs. 1 lit. b)", datacat.Presence: "Vertrag (Art. 6 Abs. 1 lit. b)",
		datacat.Traffic: "Vertrag (Art. 6 Abs. 1 lit. b); berechtigtes Interesse an Betrieb und Missbrauchsabwehr (Art. 6 Abs. 1 lit. f)",
		datacat.Usage:   "Vertrag (Art. 6 Abs. 1 lit. b)", datacat.Billing: "Vertrag (Art. 6 Abs. 1 lit. b); gesetzliche Pflicht (Art. 6 Abs. 1 lit. c)",
		datacat.AppLogs: "berechtigtes Interesse am sicheren Betrieb (Art. 6 Abs. 1 lit. f)", datacat.DebugTraces: "berechtigtes Interesse an der Fehlersuche (Art. 6 Abs. 1 lit. f)",
		datacat.Backups: "berechtigtes Interesse an Verfügbarkeit (Art. 6 Abs. 1 lit. f); Art. 32", datacat.UpdateLogs: "berechtigtes Interesse (Art. 6 Abs. 1 lit. f)",
		datacat.DirectoryQueries: "Vertrag (Art. 6 Abs. 1 lit. b)", datacat.TenantAdmin: "Vertrag (Art. 6 Abs. 1 lit. b)",
		datacat.Audit: "gesetzliche Pflicht und Rechenschaft (Art. 5 Abs. 2, Art. 6 Abs. 1 lit. c)", datacat.Configuration: "entfällt",
		datacat.Statistics: "entfällt (anonym)",
	},
}

// flowText translates what a flow does, what it sends, where to and on which legal basis;
// English comes from the flows registry.
var flowText = map[string]map[string][4]string{
	"de": {
		"sip_trunk": {"Anrufe über einen SIP-Anbieter führen und annehmen", "Signalisierung (Rufnummern, Anzeigename) und Sprachdaten der Anrufe über die Leitung",
			"der SIP-Server des eingerichteten Anbieters", "Vertrag (Art. 6 Abs. 1 lit. b DSGVO)"},
		"smtp_relay": {"Benachrichtigungen über Sprachnachrichten und Faxe per E-Mail senden", "Empfängeradresse, Rufnummer des Anrufers, Zeitpunkt; die Aufnahme oder das Fax nur, wenn Anhänge eingeschaltet sind",
			"der eingerichtete SMTP-Server (nur mit STARTTLS oder TLS)", "Vertrag (Art. 6 Abs. 1 lit. b DSGVO)"},
		"backup_target": {"Verschlüsselte Datensicherungen außerhalb des Systems ablegen", "ein Archiv, das vor dem Versand verschlüsselt wird",
			"das eingerichtete externe Sicherungsziel", "berechtigtes Interesse an Verfügbarkeit (Art. 6 Abs. 1 lit. f DSGVO)"},
		"directory_source": {"Kontakte aus einem Verzeichnis in den lokalen Index übernehmen", "Anmeldedaten und Suchanfragen des Connectors",
			"der eingerichtete LDAP-/AD-Server oder die eingerichtete URL", "berechtigtes Interesse (Art. 6 Abs. 1 lit. f DSGVO)"},
		"push_gateway": {"Mobile Softphones bei eingehenden Anrufen wecken", "eine minimale Weck-Nachricht, ohne Rufnummer, sofern nicht erlaubt",
			"das eingerichtete Push-Gateway", "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)"},
		"update_check": {"Prüfen, ob es eine neuere Privox-Version gibt", "nur die Produktversion",
			"der eingerichtete Update-Server", "berechtigtes Interesse (Art. 6 Abs. 1 lit. f DSGVO)"},
		"time_sync": {"Die Systemuhr mit einem NTP-Server abgleichen", "eine NTP-Anfrage",
			"der eingerichtete NTP-Server", "berechtigtes Interesse (Art. 6 Abs. 1 lit. f DSGVO)"},
	},
}

// kindNames name the kinds of content in the documents.
var kindNames = map[string]map[string]string{
	"en": {"voicemail": "voicemail", "greeting": "greetings", "fax": "faxes", "recording": "recordings", "im": "instant messages", "upload": "uploaded media", "prompt": "replaced system prompts"},
	"de": {"voicemail": "Sprachnachrichten", "greeting": "Ansagen", "fax": "Faxe", "recording": "Aufzeichnungen", "im": "Sofortnachrichten", "upload": "hochgeladene Medien", "prompt": "ersetzte Systemansagen"},
}

func kindName(kind, lang string) string {
	if n := kindNames[lang][kind]; n != "" {
		return n
	}
	return kind
}

// ruleText says a rule in a sentence.
func ruleText(r datacat.Rule, lang string) string {
	if lang == "de" {
		switch r.Mode {
		case datacat.Delete:
			return fmt.Sprintf("nach %d Tagen gelöscht", r.Days)
		case datacat.Anonymise:
			return fmt.Sprintf("nach %d Tagen anonymisiert (nur stündliche Summen bleiben)", r.Days)
		case datacat.WhileActive:
			return "gespeichert, solange das Konto aktiv ist"
		case datacat.UntilDeleted:
			return "gespeichert, bis es gelöscht wird"
		case datacat.NeverStored:
			return "nie gespeichert"
		}
		return string(r.Mode)
	}
	switch r.Mode {
	case datacat.Delete:
		return fmt.Sprintf("deleted after %d days", r.Days)
	case datacat.Anonymise:
		return fmt.Sprintf("anonymised after %d days (only hourly aggregates remain)", r.Days)
	case datacat.WhileActive:
		return "kept while the account is active"
	case datacat.UntilDeleted:
		return "kept until deleted"
	case datacat.NeverStored:
		return "never stored"
	}
	return string(r.Mode)
}

func onDeactivationText(o datacat.OnDeactivation, lang string) string {
	if lang == "de" {
		switch o {
		case datacat.EraseDelete:
			return "gelöscht"
		case datacat.EraseAnonymise:
			return "anonymisiert"
		}
		return "entfällt"
	}
	switch o {
	case datacat.EraseDelete:
		return "deleted"
	case datacat.EraseAnonymise:
		return "anonymised"
	}
	return "not applicable"
}

func categoryName(c datacat.Category, lang string) string {
	if n := categoryNames[lang][c]; n != "" {
		return n
	}
	return string(c)
}

func categoryDesc(c datacat.Category, lang string) string {
	if lang == "de" && categoryDescDE[c] != "" {
		return categoryDescDE[c]
	}
	return datacat.Description(c)
}
