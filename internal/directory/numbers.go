package directory

import (
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Normalize returns a phone number in E.164 form ("+49301234567") for a tenant's country
// (ISO 3166 code such as "DE"; "" accepts only numbers written in international form). It
// returns "" for input that is not a valid number; the number as entered is kept beside it.
func Normalize(number, country string) string {
	number = strings.TrimSpace(number)
	if number == "" {
		return ""
	}
	if strings.HasPrefix(number, "00") {
		number = "+" + number[2:]
	}
	// Already E.164 ("+" and 8 to 15 digits, no leading zero): nothing to parse. The
	// library's parse is regular-expression heavy and dominates a large import otherwise.
	if n := len(number); n >= 9 && n <= 16 && number[0] == '+' && number[1] != '0' && isDigits(number[1:]) {
		if cc := number[1:]; phonenumbers.GetRegionCodeForCountryCode(leadingCode(cc)) != "ZZ" {
			return number
		}
	}
	region := strings.ToUpper(country)
	if region == "" {
		region = "ZZ"
	}
	n, err := phonenumbers.Parse(number, region)
	if err != nil {
		return ""
	}
	if !phonenumbers.IsPossibleNumber(n) {
		return ""
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

// digits keeps the digits of s (a number query "+49 (30) 123-4" becomes "49301234").
func digits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// ValidCountry reports whether c is a region phonenumbers knows ("" means none).
func ValidCountry(c string) bool {
	if c == "" {
		return true
	}
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(c)) != 0
}

// countryCode returns the calling code of a region ("DE" → "49").
func countryCode(region string) string {
	if cc := phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)); cc != 0 {
		return strconv.Itoa(cc)
	}
	return ""
}

// leadingCode returns the country calling code an E.164 number's digits begin with (codes
// are prefix-free, one to three digits), or 0.
func leadingCode(d string) int {
	for l := 1; l <= 3 && l <= len(d); l++ {
		cc, _ := strconv.Atoi(d[:l])
		if phonenumbers.GetRegionCodeForCountryCode(cc) != "ZZ" {
			return cc
		}
	}
	return 0
}
