package fhir

import "testing"

func TestConditionalReferences(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		valid bool
	}{
		{"in a transaction", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"PractitionerRole","active":true,"practitioner":{"reference":"Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|123"}},"request":{"method":"POST","url":"PractitionerRole"}}]}`, true},
		{"in a batch", `{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner?name=x"}},"request":{"method":"POST","url":"PractitionerRole"}}]}`, true},
		{"in a collection", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner?name=x"}}}]}`, false},
		{"in a plain resource", `{"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner?name=x"}}`, false},
		{"unknown type", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"PractitionerRole","practitioner":{"reference":"Foo?name=x"}},"request":{"method":"POST","url":"PractitionerRole"}}]}`, false},
		{"empty criteria", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"PractitionerRole","practitioner":{"reference":"Practitioner?"}},"request":{"method":"POST","url":"PractitionerRole"}}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResource([]byte(tt.body))
			if (err == nil) != tt.valid {
				t.Errorf("ParseResource(%s) error = %v; want valid %v", tt.name, err, tt.valid)
			}
		})
	}
}
