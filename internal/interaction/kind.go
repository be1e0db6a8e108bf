package interaction

import "fmt"

// Kind is a FHIR RESTful interaction
// (http://hl7.org/fhir/restful-interaction).
type Kind uint8

// Interactions.
const (
	Read Kind = iota + 1
	VRead
	Update
	Delete
	HistoryInstance
	HistoryType
	HistorySystem
	Create
	SearchType
	SearchSystem
	Capabilities
	Batch
	Transaction
	// Operation is a FHIR operation on a type or an instance ($validate);
	// Request.Operation says which.
	Operation
)

var kindCodes = map[Kind]string{
	Read: "read", VRead: "vread", Update: "update", Delete: "delete",
	HistoryInstance: "history-instance", HistoryType: "history-type", HistorySystem: "history-system",
	Create: "create", SearchType: "search-type", SearchSystem: "search-system",
	Capabilities: "capabilities", Batch: "batch", Transaction: "transaction",
	Operation: "operation",
}

// String returns the interaction's FHIR code.
func (k Kind) String() string {
	if s, ok := kindCodes[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Writes reports whether the interaction changes data.
func (k Kind) Writes() bool {
	return k == Create || k == Update || k == Delete || k == Batch || k == Transaction
}
