package gen

// Person and place names. All plain ASCII letters, so that they need no
// escaping and make e-mail addresses as they are.

var femaleNames = [...]string{
	"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
	"Lisa", "Nancy", "Sandra", "Ashley", "Emily", "Michelle", "Amanda", "Melissa", "Deborah", "Stephanie",
	"Rebecca", "Laura", "Sharon", "Cynthia", "Kathleen", "Amy", "Angela", "Anna", "Brenda", "Emma",
	"Nicole", "Helen", "Samantha", "Katherine", "Christine", "Rachel", "Carolyn", "Janet", "Maria", "Olivia",
	"Heather", "Julie", "Victoria", "Megan", "Lauren", "Grace", "Hannah", "Priya", "Mei", "Fatima",
	"Aisha", "Sofia", "Camila", "Lucia", "Ana", "Yesenia", "Guadalupe", "Thi", "Ngoc", "Ji-woo",
	"Min-ji", "Aaliyah", "Jasmine", "Keisha", "Naomi", "Leah", "Esther", "Miriam", "Irina", "Olga",
	"Anjali", "Deepa", "Sunita", "Yuki", "Hana", "Lin", "Xiu", "Rosa", "Carmen", "Elena",
}

var maleNames = [...]string{
	"James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Charles",
	"Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Paul", "Andrew", "Joshua",
	"Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Edward", "Jason", "Jeffrey", "Ryan",
	"Jacob", "Gary", "Nicholas", "Eric", "Jonathan", "Stephen", "Larry", "Justin", "Scott", "Brandon",
	"Benjamin", "Samuel", "Gregory", "Alexander", "Patrick", "Raymond", "Jack", "Dennis", "Jerry", "Tyler",
	"Jose", "Luis", "Carlos", "Juan", "Miguel", "Alejandro", "Rajesh", "Arjun", "Vikram", "Sanjay",
	"Wei", "Jun", "Hiroshi", "Kenji", "Minh", "Duc", "Min-jun", "Omar", "Ahmed", "Yusuf",
	"Dmitri", "Ivan", "Samuel", "Malik", "Darnell", "Andre", "Elijah", "Isaac", "Aaron", "Nathan",
}

var surnames = [...]string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
	"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
	"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
	"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
	"Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes",
	"Stewart", "Morris", "Morales", "Murphy", "Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper",
	"Peterson", "Bailey", "Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
	"Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza", "Ruiz", "Hughes",
	"Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers", "Long", "Ross", "Foster", "Jimenez",
	"Powell", "Jenkins", "Perry", "Russell", "Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes",
	"Chen", "Wang", "Li", "Zhang", "Liu", "Yang", "Huang", "Wu", "Tran", "Le",
	"Pham", "Park", "Choi", "Shah", "Singh", "Kumar", "Gupta", "Sharma", "Reddy", "Rao",
	"Khan", "Ali", "Hassan", "Ibrahim", "Cohen", "Levy", "Friedman", "Schwartz", "Kowalski", "Novak",
	"Ivanov", "Petrov", "Yamamoto", "Tanaka", "Sato", "Suzuki", "Okafor", "Adeyemi", "Mensah", "Nakamura",
	"Fischer", "Weber", "Schmidt", "Rossi", "Russo", "Costa", "Silva", "Santos", "Oliveira", "Murray",
}

var middleInitials = "ABCDEFGHJKLMNPRSTW"

var streetNames = [...]string{
	"Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park",
	"Walnut", "Church", "Spring", "Ridge", "Center", "Jefferson", "Lincoln", "Madison", "Franklin", "Jackson",
	"Highland", "Sunset", "Riverside", "Meadow", "Forest", "Willow", "Chestnut", "Broad", "Market", "Union",
	"University", "College", "Medical Center", "Hospital", "Liberty", "Grand", "Prospect", "Valley", "Wilson", "Adams",
}

var streetSuffixes = [...]string{"St", "Ave", "Blvd", "Dr", "Rd", "Pkwy", "Way", "Ln", "Ct", "Pl"}

// Organization name parts.
var systemWords = [...]string{
	"Mercy", "Providence", "Trinity", "Grace", "Covenant", "Unity", "Harmony", "Beacon", "Sentinel", "Heritage",
	"Cornerstone", "Pinnacle", "Summit", "Meridian", "Horizon", "Keystone", "Landmark", "Evergreen", "Bayside", "Lakeshore",
	"Riverbend", "Valley", "Prairie", "Mountain View", "Parkview", "Northside", "Southwest", "Eastern", "Central", "Crossroads",
	"St. Luke's", "St. Mary's", "St. Joseph", "St. Francis", "Good Samaritan", "Sacred Heart", "Methodist", "Baptist", "Presbyterian", "Lutheran",
}

var systemSuffixes = [...]string{"Health", "Health System", "Healthcare", "Medical Group", "Health Partners", "Health Network"}

var practiceWords = [...]string{
	"Family", "Community", "Neighborhood", "Premier", "Advanced", "Complete", "Comprehensive", "Integrated", "Associated", "Allied",
	"Bright", "Clear", "Gentle", "Healthy", "Hometown", "Main Street", "Riverside", "Lakeside", "Hillside", "Parkside",
	"Oak", "Maple", "Cedar", "Willow", "Laurel", "Magnolia", "Sequoia", "Juniper", "Cypress", "Birch",
}

var practiceSuffixes = [...]string{"Associates", "Group", "Partners", "Clinic", "Center", "Specialists", "Care"}

// Payer name parts: payer p is named from these by index so that any
// market can name a payer it has never seen.
var payerWords = [...]string{
	"Keystone", "Prairie", "Bayou", "Evergreen", "Summit", "Heartland", "Gulf Coast", "Pioneer", "Lakeshore", "Blue Ridge",
	"Cascade", "Sierra", "Patriot", "Liberty", "Frontier", "Granite", "Sunshine", "Magnolia", "Great Plains", "Atlantic",
	"Pacific", "Golden State", "Lone Star", "Tidewater", "Piedmont", "Ozark", "Badger", "Buckeye", "Hoosier", "Empire",
	"Mountain West", "Desert", "Coastal", "Northern", "Southern", "Midwest", "Capital", "Harbor", "Redwood", "Canyon",
}

var payerSuffixes = [...]string{"Health Plan", "Health Insurance", "Health Alliance", "Care Plans", "Mutual Health", "Community Health Plan"}
