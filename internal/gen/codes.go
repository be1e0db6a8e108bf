package gen

// Code systems the generator writes.
const (
	sysNUCC          = "http://nucc.org/provider-taxonomy"
	sysSNOMED        = "http://snomed.info/sct"
	sysNPI           = "http://hl7.org/fhir/sid/us-npi"
	sysEIN           = "urn:oid:2.16.840.1.113883.4.4"
	sysV2ID          = "http://terminology.hl7.org/CodeSystem/v2-0203"
	sysV2Degree      = "http://terminology.hl7.org/CodeSystem/v2-0360"
	sysOrgType       = "http://terminology.hl7.org/CodeSystem/organization-type"
	sysPracRole      = "http://terminology.hl7.org/CodeSystem/practitioner-role"
	sysRoleCode      = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
	sysPhysType      = "http://terminology.hl7.org/CodeSystem/location-physical-type"
	sysServiceCat    = "http://terminology.hl7.org/CodeSystem/service-category"
	sysServiceType   = "http://terminology.hl7.org/CodeSystem/service-type"
	sysContactType   = "http://terminology.hl7.org/CodeSystem/contactentity-type"
	sysConnType      = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
	sysPayloadType   = "http://terminology.hl7.org/CodeSystem/endpoint-payload-type"
	sysOrgRole       = "http://hl7.org/fhir/organization-role"
	sysLOINC         = "http://loinc.org"
	sysLang          = "urn:ietf:bcp:47"
	sysUSPS          = "https://www.usps.com/"
	sysResStatus     = "http://hl7.org/fhir/resource-status"
	sysVhdirCS       = "http://hl7.org/fhir/uv/vhdir/CodeSystem/"
	vhdirSD          = "http://hl7.org/fhir/uv/vhdir/StructureDefinition/"
	extGeolocation   = "http://hl7.org/fhir/StructureDefinition/geolocation"
	extOrgPeriod     = "http://hl7.org/fhir/StructureDefinition/organization-period"
	extBoundary      = "http://hl7.org/fhir/StructureDefinition/location-boundary-geojson"
	sysDEA           = "https://www.deadiversion.usdoj.gov/"
	sysHIOS          = "https://www.cms.gov/CCIIO/"
	sysFormatCode    = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
	sysProvisionCond = "http://terminology.hl7.org/CodeSystem/service-provision-conditions"
	sysReferral      = "http://terminology.hl7.org/CodeSystem/service-referral-method"
	sysApplicability = "http://terminology.hl7.org/CodeSystem/applicability"
	sysUCUM          = "http://unitsofmeasure.org"
	sysISO4217       = "urn:iso:std:iso:4217"
)

// code is one coding: code and display in a system named where it is used.
type code struct{ code, display string }

// licence says which state board licenses a kind of provider.
type licence uint8

const (
	licMedical licence = iota
	licNursing
	licDental
	licHealthProf // psychology, therapy, pharmacy, social work, optometry, podiatry
	numLicences
)

var boardNames = [numLicences]struct{ id, name string }{
	{"med", "Board of Medicine"},
	{"nurse", "Board of Nursing"},
	{"dent", "Board of Dentistry"},
	{"hp", "Board of Health Professions"},
}

// kind is a kind of provider: its NUCC taxonomy code, the matching SNOMED CT
// practice specialty (FHIR c80-practice-codes), its degree and licence.
type kind struct {
	nucc, snomed code
	role         code   // practitioner-role code; "" when none fits
	degree       string // v2-0360 code; "" when the table has none (DDS, DPT, ...)
	degreeText   string // as written after the name
	title        string // "Dr." or ""
	board        string // certifying board, "" when not board-certified
	lic          licence
	licPrefix    string // licence number prefix
	prescriber   bool   // holds a DEA registration
}

// degrees are the displays of the v2-0360 degree codes kinds use.
var degrees = map[string]string{
	"MD": "Doctor of Medicine", "DO": "Doctor of Osteopathy", "NP": "Nurse Practitioner",
	"FPNP": "Family Practice Nurse Practitioner", "CANP": "Certified Adult Nurse Practitioner",
	"PA": "Physician Assistant", "CRN": "Certified Registered Nurse", "CNM": "Certified Nurse Midwife",
	"CNS": "Certified Nurse Specialist", "RN": "Registered Nurse", "PHD": "Doctor of Philosophy",
	"MA": "Master of Arts", "MS": "Master of Science", "PharmD": "Doctor of Pharmacy",
}

var (
	roleDoctor     = code{"doctor", "Doctor"}
	roleNurse      = code{"nurse", "Nurse"}
	rolePharmacist = code{"pharmacist", "Pharmacist"}
)

// Physician kinds use degree MD (or DO for some practitioners).
var kinds = [...]kind{
	// 0..29 physicians
	{code{"207Q00000X", "Family Medicine"}, code{"419772000", "Family practice"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Family Medicine", licMedical, "MD", true},
	{code{"207R00000X", "Internal Medicine"}, code{"419192003", "Internal medicine"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"208000000X", "Pediatrics"}, code{"394537008", "Pediatric specialty"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Pediatrics", licMedical, "MD", true},
	{code{"207RC0000X", "Cardiovascular Disease"}, code{"394579002", "Cardiology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207RG0100X", "Gastroenterology"}, code{"394584008", "Gastroenterology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207RE0101X", "Endocrinology, Diabetes & Metabolism"}, code{"394583002", "Endocrinology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207RN0300X", "Nephrology"}, code{"394589003", "Nephrology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207RP1001X", "Pulmonary Disease"}, code{"418112009", "Pulmonary medicine"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207RH0003X", "Hematology & Oncology"}, code{"394593009", "Medical oncology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207RI0200X", "Infectious Disease"}, code{"394807007", "Infectious diseases"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207RR0500X", "Rheumatology"}, code{"394810000", "Rheumatology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"207V00000X", "Obstetrics & Gynecology"}, code{"394585009", "Obstetrics and gynecology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Obstetrics and Gynecology", licMedical, "MD", true},
	{code{"207P00000X", "Emergency Medicine"}, code{"394576009", "Accident & emergency"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Emergency Medicine", licMedical, "MD", true},
	{code{"207L00000X", "Anesthesiology"}, code{"394577000", "Anesthetics"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Anesthesiology", licMedical, "MD", true},
	{code{"2084N0400X", "Neurology"}, code{"394591006", "Neurology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Psychiatry and Neurology", licMedical, "MD", true},
	{code{"2084P0800X", "Psychiatry"}, code{"394587001", "Psychiatry"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Psychiatry and Neurology", licMedical, "MD", true},
	{code{"207X00000X", "Orthopaedic Surgery"}, code{"394801008", "Trauma and orthopedics"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Orthopaedic Surgery", licMedical, "MD", true},
	{code{"208600000X", "Surgery"}, code{"394609007", "General surgery"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Surgery", licMedical, "MD", true},
	{code{"2086S0129X", "Vascular Surgery"}, code{"408463005", "Vascular surgery"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Surgery", licMedical, "MD", true},
	{code{"208G00000X", "Thoracic Surgery (Cardiothoracic Vascular Surgery)"}, code{"408466002", "Cardiac surgery"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Thoracic Surgery", licMedical, "MD", true},
	{code{"207N00000X", "Dermatology"}, code{"394582007", "Dermatology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Dermatology", licMedical, "MD", true},
	{code{"207W00000X", "Ophthalmology"}, code{"394594003", "Ophthalmology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Ophthalmology", licMedical, "MD", true},
	{code{"207Y00000X", "Otolaryngology"}, code{"418960008", "Otolaryngology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Otolaryngology - Head and Neck Surgery", licMedical, "MD", true},
	{code{"2085R0202X", "Diagnostic Radiology"}, code{"394914008", "Radiology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Radiology", licMedical, "MD", true},
	{code{"208800000X", "Urology"}, code{"394612005", "Urology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Urology", licMedical, "MD", true},
	{code{"207ZP0102X", "Anatomic Pathology & Clinical Pathology"}, code{"394915009", "General pathology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Pathology", licMedical, "MD", false},
	{code{"207K00000X", "Allergy & Immunology"}, code{"408480009", "Clinical immunology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Allergy and Immunology", licMedical, "MD", true},
	{code{"208100000X", "Physical Medicine & Rehabilitation"}, code{"394602003", "Rehabilitation"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Physical Medicine and Rehabilitation", licMedical, "MD", true},
	{code{"207RG0300X", "Geriatric Medicine"}, code{"394811001", "Geriatric medicine"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Internal Medicine", licMedical, "MD", true},
	{code{"2085R0001X", "Radiation Oncology"}, code{"419815003", "Radiation oncology"}, roleDoctor, "MD", "MD", "Dr.", "American Board of Radiology", licMedical, "MD", false},
	// 30.. advanced practice and nursing
	{code{"363LF0000X", "Nurse Practitioner, Family"}, code{"419772000", "Family practice"}, roleNurse, "FPNP", "FNP-C", "", "", licNursing, "APRN", true},
	{code{"363LA2200X", "Nurse Practitioner, Adult Health"}, code{"419192003", "Internal medicine"}, roleNurse, "CANP", "AGNP-C", "", "", licNursing, "APRN", true},
	{code{"363LP0808X", "Nurse Practitioner, Psych/Mental Health"}, code{"394587001", "Psychiatry"}, roleNurse, "NP", "PMHNP-BC", "", "", licNursing, "APRN", true},
	{code{"363L00000X", "Nurse Practitioner"}, code{"394802001", "General medicine"}, roleNurse, "NP", "NP", "", "", licNursing, "APRN", true},
	{code{"363AM0700X", "Physician Assistant, Medical"}, code{"394802001", "General medicine"}, code{}, "PA", "PA-C", "", "", licMedical, "PA", true},
	{code{"363AS0400X", "Physician Assistant, Surgical"}, code{"394609007", "General surgery"}, code{}, "PA", "PA-C", "", "", licMedical, "PA", true},
	{code{"367500000X", "Nurse Anesthetist, Certified Registered"}, code{"394577000", "Anesthetics"}, roleNurse, "CRN", "CRNA", "", "", licNursing, "APRN", true},
	{code{"367A00000X", "Advanced Practice Midwife"}, code{"408470005", "Obstetrics"}, roleNurse, "CNM", "CNM", "", "", licNursing, "APRN", true},
	{code{"364S00000X", "Clinical Nurse Specialist"}, code{"394802001", "General medicine"}, roleNurse, "CNS", "CNS", "", "", licNursing, "APRN", false},
	{code{"163W00000X", "Registered Nurse"}, code{"394802001", "General medicine"}, roleNurse, "RN", "RN", "", "", licNursing, "RN", false},
	// 40.. dental, behavioural and allied health
	{code{"1223G0001X", "Dentist, General Practice"}, code{"408444009", "Dental-General dental practice"}, roleDoctor, "", "DDS", "Dr.", "", licDental, "DDS", true},
	{code{"1223X0400X", "Orthodontics and Dentofacial Orthopedics"}, code{"394608004", "Surgery-Dental-Orthodontics"}, roleDoctor, "", "DMD", "Dr.", "American Board of Orthodontics", licDental, "DDS", true},
	{code{"1223P0221X", "Pediatric Dentistry"}, code{"394607009", "Pediatric dentistry"}, roleDoctor, "", "DDS", "Dr.", "American Board of Pediatric Dentistry", licDental, "DDS", true},
	{code{"103TC0700X", "Psychologist, Clinical"}, code{"394913002", "Psychotherapy"}, code{}, "PHD", "PhD", "Dr.", "", licHealthProf, "PSY", false},
	{code{"1041C0700X", "Social Worker, Clinical"}, code{"394913002", "Psychotherapy"}, code{}, "", "LCSW", "", "", licHealthProf, "LCSW", false},
	{code{"101YM0800X", "Counselor, Mental Health"}, code{"394913002", "Psychotherapy"}, code{}, "MA", "LPC", "", "", licHealthProf, "LPC", false},
	{code{"225100000X", "Physical Therapist"}, code{"394602003", "Rehabilitation"}, code{}, "", "PT, DPT", "", "", licHealthProf, "PT", false},
	{code{"225X00000X", "Occupational Therapist"}, code{"394602003", "Rehabilitation"}, code{}, "MS", "OTR/L", "", "", licHealthProf, "OT", false},
	{code{"235Z00000X", "Speech-Language Pathologist"}, code{"394602003", "Rehabilitation"}, code{}, "MS", "CCC-SLP", "", "", licHealthProf, "SLP", false},
	{code{"152W00000X", "Optometrist"}, code{"394594003", "Ophthalmology"}, code{}, "", "OD", "Dr.", "", licHealthProf, "OD", true},
	{code{"213E00000X", "Podiatrist"}, code{"394801008", "Trauma and orthopedics"}, code{}, "", "DPM", "Dr.", "American Board of Foot and Ankle Surgery", licHealthProf, "DPM", true},
	{code{"183500000X", "Pharmacist"}, code{"394600006", "Clinical pharmacology"}, rolePharmacist, "PharmD", "PharmD", "", "", licHealthProf, "RPH", false},
	{code{"133V00000X", "Dietitian, Registered"}, code{"394802001", "General medicine"}, code{}, "MS", "RDN", "", "", licHealthProf, "LD", false},
}

// Kinds by index, for the staffing tables below.
const (
	kFamily = iota
	kInternal
	kPediatrics
	kCardiology
	kGastro
	kEndo
	kNephro
	kPulm
	kHemOnc
	kID
	kRheum
	kObGyn
	kEmergency
	kAnesthesia
	kNeuro
	kPsychiatry
	kOrtho
	kSurgery
	kVascular
	kThoracic
	kDerm
	kOphth
	kENT
	kRadiology
	kUrology
	kPathology
	kAllergy
	kPMR
	kGeriatrics
	kRadOnc
	kFNP
	kAGNP
	kPMHNP
	kNP
	kPAMed
	kPASurg
	kCRNA
	kCNM
	kCNS
	kRN
	kDentist
	kOrthodontist
	kPedoDentist
	kPsychologist
	kSocialWorker
	kCounselor
	kPT
	kOT
	kSLP
	kOptometrist
	kPodiatrist
	kPharmacist
	kDietitian
)

// service is a unit a provider organization runs: a hospital department or
// an ambulatory clinic. Its staff is drawn from mix (kind indexes, repeated
// to weight them).
type service struct {
	name     string
	category code // service-category
	typ      code // service-type
	spec     code // SNOMED CT practice specialty
	locType  code // v3-RoleCode service delivery location type; code "" for text only
	mix      []int
}

var (
	catDental     = code{"10", "Dental"}
	catEmergency  = code{"14", "Emergency Department"}
	catGP         = code{"17", "General Practice"}
	catMental     = code{"22", "Mental Health"}
	catSpecialist = code{"27", "Specialist Medical"}
	catObGyn      = code{"28", "Specialist Obstetrics & Gynecology"}
	catPediatric  = code{"29", "Specialist Paediatric"}
	catRadiology  = code{"30", "Specialist Radiology/Imaging"}
	catSurgical   = code{"31", "Specialist Surgical"}
	catAllied     = code{"34", "Allied Health"}
	catHospital   = code{"35", "Hospital"}
)

// Every hospital has these departments (indexes into departments).
const (
	deptEmergency = 1
	deptInternal  = 11
)

// departments are hospital departments.
var departments = [...]service{
	{"Cardiology", catSpecialist, code{"165", "Cardiology"}, code{"394579002", "Cardiology"}, code{"CARD", "Ambulatory Health Care Facilities; Clinic/Center; Rehabilitation: Cardiac Facilities"}, []int{kCardiology, kCardiology, kCardiology, kThoracic, kVascular, kAGNP, kPAMed, kRN}},
	{"Emergency Medicine", catEmergency, code{"117", "Emergency Medical"}, code{"394576009", "Accident & emergency"}, code{"ER", "Emergency room"}, []int{kEmergency, kEmergency, kEmergency, kEmergency, kPAMed, kNP, kRN, kRN}},
	{"Oncology", catSpecialist, code{"175", "Medical Oncology"}, code{"394593009", "Medical oncology"}, code{"ONCL", "Medical oncology clinic"}, []int{kHemOnc, kHemOnc, kHemOnc, kRadOnc, kAGNP, kRN, kPharmacist}},
	{"Orthopedics", catSurgical, code{"218", "Orthopaedic Surgery"}, code{"394801008", "Trauma and orthopedics"}, code{"ORTHO", "Orthopedics clinic"}, []int{kOrtho, kOrtho, kOrtho, kPASurg, kPT, kPodiatrist}},
	{"Pediatrics", catPediatric, code{"200", "Paediatric Medicine"}, code{"394537008", "Pediatric specialty"}, code{"PEDC", "Pediatrics clinic"}, []int{kPediatrics, kPediatrics, kPediatrics, kFNP, kRN}},
	{"Women's Health", catObGyn, code{"186", "Obstetrics & Gynaecology"}, code{"394585009", "Obstetrics and gynecology"}, code{"OB", "Obstetrics clinic"}, []int{kObGyn, kObGyn, kObGyn, kCNM, kCNM, kRN}},
	{"Neurology", catSpecialist, code{"177", "Neurology"}, code{"394591006", "Neurology"}, code{"NEUR", "Neurology clinic"}, []int{kNeuro, kNeuro, kNeuro, kAGNP, kSLP}},
	{"Behavioral Health", catMental, code{"141", "Psychiatry (Requires Referral)"}, code{"394587001", "Psychiatry"}, code{"PSYCHF", "Psychiatric care facility"}, []int{kPsychiatry, kPsychiatry, kPMHNP, kPsychologist, kSocialWorker, kCounselor}},
	{"General Surgery", catSurgical, code{"221", "Surgery - General"}, code{"394609007", "General surgery"}, code{"HU", "Hospital unit"}, []int{kSurgery, kSurgery, kSurgery, kVascular, kPASurg, kRN}},
	{"Anesthesiology", catHospital, code{"164", "Anaesthesiology - Pain Medicine"}, code{"394577000", "Anesthetics"}, code{"HU", "Hospital unit"}, []int{kAnesthesia, kAnesthesia, kAnesthesia, kCRNA, kCRNA}},
	{"Radiology", catRadiology, code{"209", "Diag. Radiology /Xray /CT /Fluoroscopy"}, code{"394914008", "Radiology"}, code{"RADDX", "Radiology diagnostics or therapeutics unit"}, []int{kRadiology, kRadiology, kRadiology, kRadOnc}},
	{"Internal Medicine", catHospital, code{"124", "General Practice"}, code{"419192003", "Internal medicine"}, code{"GIM", "General internal medicine clinic"}, []int{kInternal, kInternal, kInternal, kGeriatrics, kID, kPulm, kAGNP, kPAMed, kRN, kDietitian}},
	{"Gastroenterology", catSpecialist, code{"170", "Gastroenterology & Hepatology"}, code{"394584008", "Gastroenterology"}, code{"GI", "Gastroenterology clinic"}, []int{kGastro, kGastro, kGastro, kAGNP, kDietitian}},
	{"Nephrology", catSpecialist, code{"176", "Nephrology"}, code{"394589003", "Nephrology"}, code{"NEPH", "Nephrology clinic"}, []int{kNephro, kNephro, kAGNP, kDietitian}},
	{"Urology", catSurgical, code{"222", "Urology"}, code{"394612005", "Urology"}, code{"URO", "Urology clinic"}, []int{kUrology, kUrology, kPASurg}},
	{"Rehabilitation", catAllied, code{"181", "Rehabilitation Medicine"}, code{"394602003", "Rehabilitation"}, code{"RH", "Rehabilitation hospital"}, []int{kPMR, kPT, kPT, kOT, kSLP}},
	{"Pathology", catHospital, code{"159", "Pathology - General"}, code{"394915009", "General pathology"}, code{"HU", "Hospital unit"}, []int{kPathology, kPathology}},
	{"Ophthalmology", catSurgical, code{"217", "Ophthalmology"}, code{"394594003", "Ophthalmology"}, code{"OPH", "Opthalmology clinic"}, []int{kOphth, kOphth, kOptometrist}},
	{"Otolaryngology", catSurgical, code{"219", "Otolaryngology/Head & Neck Surgery"}, code{"418960008", "Otolaryngology"}, code{"ENT", "Otorhinolaryngology clinic"}, []int{kENT, kENT, kSLP}},
}

// clinics are ambulatory services, run by health systems or independent
// practices.
var clinics = [...]service{
	{"Family Medicine", catGP, code{"124", "General Practice"}, code{"419772000", "Family practice"}, code{"FMC", "Family medicine clinic"}, []int{kFamily, kFamily, kFamily, kFamily, kFNP, kFNP, kPAMed, kRN}},
	{"Primary Care", catGP, code{"124", "General Practice"}, code{"394802001", "General medicine"}, code{"PC", "Primary care clinic"}, []int{kInternal, kInternal, kFamily, kFNP, kNP, kPAMed}},
	{"Pediatrics", catPediatric, code{"200", "Paediatric Medicine"}, code{"394537008", "Pediatric specialty"}, code{"PEDC", "Pediatrics clinic"}, []int{kPediatrics, kPediatrics, kPediatrics, kFNP}},
	{"Cardiology", catSpecialist, code{"165", "Cardiology"}, code{"394579002", "Cardiology"}, code{"CARD", "Ambulatory Health Care Facilities; Clinic/Center; Rehabilitation: Cardiac Facilities"}, []int{kCardiology, kCardiology, kAGNP}},
	{"Dermatology", catSpecialist, code{"168", "Dermatology"}, code{"394582007", "Dermatology"}, code{"DERM", "Dermatology clinic"}, []int{kDerm, kDerm, kPAMed}},
	{"Endocrinology", catSpecialist, code{"169", "Endocrinology"}, code{"394583002", "Endocrinology"}, code{"ENDO", "Endocrinology clinic"}, []int{kEndo, kEndo, kDietitian}},
	{"Rheumatology", catSpecialist, code{"182", "Rheumatology"}, code{"394810000", "Rheumatology"}, code{"RHEUM", "Rheumatology clinic"}, []int{kRheum, kRheum}},
	{"Allergy & Immunology", catSpecialist, code{"172", "Immunology & Allergy"}, code{"408480009", "Clinical immunology"}, code{"ALL", "Allergy clinic"}, []int{kAllergy, kAllergy, kNP}},
	{"Obstetrics & Gynecology", catObGyn, code{"186", "Obstetrics & Gynaecology"}, code{"394585009", "Obstetrics and gynecology"}, code{"GYN", "Gynecology clinic"}, []int{kObGyn, kObGyn, kCNM}},
	{"Orthopedics & Sports Medicine", catSurgical, code{"218", "Orthopaedic Surgery"}, code{"394801008", "Trauma and orthopedics"}, code{"ORTHO", "Orthopedics clinic"}, []int{kOrtho, kOrtho, kPASurg, kPT}},
	{"Behavioral Health", catMental, code{"142", "Psychology"}, code{"394913002", "Psychotherapy"}, code{"PSY", "Psychology clinic"}, []int{kPsychologist, kPsychologist, kSocialWorker, kCounselor, kPMHNP, kPsychiatry}},
	{"Dental", catDental, code{"88", "General Dental"}, code{"408444009", "Dental-General dental practice"}, code{"", "Dental clinic"}, []int{kDentist, kDentist, kDentist, kOrthodontist, kPedoDentist}},
	{"Physical Therapy", catAllied, code{"65", "Physiotherapy"}, code{"394602003", "Rehabilitation"}, code{"", "Physical therapy clinic"}, []int{kPT, kPT, kPT, kOT}},
	{"Eye Care", catSpecialist, code{"62", "Optometry"}, code{"394594003", "Ophthalmology"}, code{"OPH", "Opthalmology clinic"}, []int{kOptometrist, kOptometrist, kOphth}},
	{"Podiatry", catAllied, code{"66", "Podiatry"}, code{"394801008", "Trauma and orthopedics"}, code{"", "Podiatry clinic"}, []int{kPodiatrist}},
	{"Gastroenterology", catSpecialist, code{"170", "Gastroenterology & Hepatology"}, code{"394584008", "Gastroenterology"}, code{"GI", "Gastroenterology clinic"}, []int{kGastro, kGastro}},
	{"Neurology", catSpecialist, code{"177", "Neurology"}, code{"394591006", "Neurology"}, code{"NEUR", "Neurology clinic"}, []int{kNeuro, kNeuro}},
	{"Urology", catSurgical, code{"222", "Urology"}, code{"394612005", "Urology"}, code{"URO", "Urology clinic"}, []int{kUrology}},
}

// practiceClinics weights the services independent practices offer: mostly
// primary care, dental and therapy (clinics indexes, repeated to weight).
var practiceClinics = []int{0, 0, 0, 1, 1, 2, 2, 11, 11, 11, 12, 12, 10, 10, 13, 3, 4, 5, 8, 9, 14, 15, 16, 17, 6, 7}

// systemClinics weights the ambulatory clinics health systems run.
var systemClinics = []int{0, 0, 1, 1, 1, 2, 3, 4, 5, 8, 9, 10, 12, 13, 6, 7, 15, 16}

// languages are the extra languages practitioners speak, weighted roughly
// by how common they are among US clinicians (per mille).
var languages = [...]struct {
	code, display string
	permille      int
}{
	{"es", "Spanish", 180},
	{"zh", "Chinese", 30},
	{"hi", "Hindi", 25},
	{"tl", "Tagalog", 20},
	{"vi", "Vietnamese", 20},
	{"fr", "French", 20},
	{"ar", "Arabic", 15},
	{"ko", "Korean", 15},
	{"ru", "Russian", 15},
	{"pt", "Portuguese", 10},
	{"de", "German", 10},
	{"ur", "Urdu", 10},
	{"fa", "Persian", 8},
	{"ht", "Haitian Creole", 6},
}

var proficiency = [...]code{
	{"50", "Functional native proficiency"},
	{"40", "Advanced professional proficiency"},
	{"30", "General professional proficiency"},
	{"20", "Limited working proficiency"},
}

var accessibilityCodes = [...]code{
	{"handiaccess", "handicap accessible"},
	{"adacomp", "ADA compliant"},
	{"pubtrans", "public transit options"},
	{"anssrvc", "answering service"},
	{"cultcomp", "Cultural competence"},
	{"vision", "vision"},
	{"cognitive", "cognitive"},
	{"mobility", "mobility"},
}

var careTeamCategories = [...]code{
	{"LA27976-2", "Encounter-focused care team"},
	{"LA27977-0", "Episode of care-focused care team"},
	{"LA27978-8", "Condition-focused care team"},
	{"LA28865-6", "Longitudinal care-coordination focused care team"},
}

// ehrProducts are fictional EHR products for the ehr extension.
var ehrProducts = [...]struct{ developer, product, version, edition string }{
	{"Cedar Clinical Systems", "Cedar EHR", "12.4", "2015"},
	{"Lighthouse Health Software", "Lighthouse Ambulatory", "9.2.1", "2015"},
	{"Northbridge Medical IT", "Northbridge Enterprise", "2023.1", "2015"},
	{"Keystone Health Informatics", "KeyChart", "7.8", "2014"},
	{"Bluewater Solutions", "Bluewater Practice Suite", "5.0.3", "2015"},
	{"Summit Record Systems", "SummitOne", "11.0", "2014"},
}

// restrictionReasons describe why a resource or element is restricted.
var restrictionReasons = [...]struct{ purpose, policy, label string }{
	{"Domestic violence shelter", "womens-shelter", "domestic-violence-advocates"},
	{"Military treatment facility", "military-health", "dod-authorized-personnel"},
	{"Emergency responder", "emergency-responders", "emergency-management"},
	{"Witness protection", "protected-persons", "law-enforcement-liaison"},
	{"Substance use disorder program", "42-cfr-part-2", "sud-program-staff"},
}
