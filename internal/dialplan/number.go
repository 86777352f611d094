package dialplan

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Class is what kind of destination an outside number is, as far as the toll-fraud guard
// is concerned.
type Class string

const (
	ClassEmergency     Class = "emergency"     // never blocked
	ClassNational      Class = "national"      // fixed or mobile in the tenant's country
	ClassInternational Class = "international" // another country
	ClassPremium       Class = "premium"       // premium rate or shared cost, any country
	ClassSpecial       Class = "special"       // a short or service number of the country
	ClassInvalid       Class = "invalid"       // not a number phonenumbers knows
)

// maxEmergencyLen bounds the emergency numbers of every country (112, 911, 000, 118 ...).
const maxEmergencyLen = 6

// Classify normalises an outside number to E.164 for the tenant's country (ISO 3166 code,
// "DE") and says what class it is. Emergency and special numbers keep their digits (e164
// is then "").
func Classify(number, country string) (e164 string, class Class) {
	country = strings.ToUpper(country)
	// Emergency numbers are short everywhere; the check is costly, so only short numbers
	// take it.
	if country != "" && len(number) <= maxEmergencyLen && phonenumbers.IsEmergencyNumber(number, country) {
		return "", ClassEmergency
	}
	num, err := phonenumbers.Parse(number, country)
	if err != nil {
		return "", ClassInvalid
	}
	if !phonenumbers.IsValidNumber(num) {
		if country != "" && phonenumbers.IsValidShortNumberForRegion(num, country) {
			return "", ClassSpecial
		}
		return "", ClassInvalid
	}
	e164 = phonenumbers.Format(num, phonenumbers.E164)
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST:
		return e164, ClassPremium
	}
	if phonenumbers.GetRegionCodeForNumber(num) != country {
		return e164, ClassInternational
	}
	return e164, ClassNational
}
