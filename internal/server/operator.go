package server

import (
	"context"
	"os"

	"github.com/vhdir/vhdir/internal/interaction"
)

// operatorScope is what an operator at the command line may do: every
// read and write, but not the audit trail (its own scope).
const operatorScope = "system/*.cruds"

// AsOperator returns ctx acting as name, the operating-system user running
// command directly on the database (vhdir load, vhdir clients, serve
// --seed-examples): Bundles pass the same authorization as a client's,
// and Provenance and audit records name the operator and this host.
func AsOperator(ctx context.Context, name, command string) context.Context {
	host, _ := os.Hostname()
	return interaction.WithCaller(ctx, &interaction.Caller{ClientID: "operator:" + name, ClientName: "operator " + name + " (vhdir " + command + ")",
		Scope: operatorScope, Address: host})
}
