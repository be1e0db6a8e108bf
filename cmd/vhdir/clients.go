package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/vhdir/vhdir/internal/auth"
	"github.com/vhdir/vhdir/internal/clock"
	"github.com/vhdir/vhdir/internal/profile"
	"github.com/vhdir/vhdir/internal/server"
	"github.com/vhdir/vhdir/internal/store"
)

const clientsSynopsis = "clients add|list|show|disable|enable [flags]"

// runClients manages registered client systems directly on the database.
func runClients(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "Usage: vhdir %s\n\n", clientsSynopsis)
		fmt.Fprintln(stderr, "  add      register a client system; prints its registration with the assigned client_id")
		fmt.Fprintln(stderr, "  list     list registered clients")
		fmt.Fprintln(stderr, "  show ID  print one registration")
		fmt.Fprintln(stderr, "  disable ID, enable ID: a disabled client gets no tokens, and its tokens stop working within seconds")
		fmt.Fprintln(stderr, "\nEach takes --db (env VHDIR_DB); `vhdir clients add --help` lists its flags.")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	switch args[0] {
	case "add":
		return clientsAdd(ctx, args[1:], stdout, stderr)
	case "list":
		return clientsList(ctx, args[1:], stdout, stderr)
	case "show":
		return clientsShow(ctx, args[1:], stdout, stderr)
	case "disable", "enable":
		return clientsSetDisabled(ctx, args[0], args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "vhdir clients: unknown subcommand %q (add, list, show, disable, enable)\n", args[0])
	return errUsage
}

// cliBase names a command working on the database directly (no server
// address) in its audit records.
const cliBase = "urn:vhdir:cli"

// openRegistry opens the database and the client registry on it: each
// change commits together with its audit record, naming the operator.
func openRegistry(ctx context.Context, db string) (*auth.Registry, func(), error) {
	st, err := openStore(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	host, _ := os.Hostname()
	srv, err := server.New(server.Config{BaseURL: cliBase, Store: st, Clock: clock.System{}, AuditSite: strings.TrimSpace("cli " + host),
		// Registrations write no directory resources; the default policy
		// stands in for the required collaborator.
		ProfileValidation: profile.Enforce})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return srv.Registry(), func() { st.Close() }, nil
}

// clientView is how the CLI prints a registration.
type clientView struct {
	*auth.Registration
	Status  string `json:"status"`
	Created string `json:"created,omitempty"`
	Updated string `json:"updated,omitempty"`
}

func view(reg *auth.Registration, rec *store.ClientRecord) clientView {
	v := clientView{Registration: reg, Status: "active"}
	if reg.Disabled {
		v.Status = "disabled"
	}
	if rec != nil {
		v.Created = rec.Created.Format(time.RFC3339)
		v.Updated = rec.Updated.Format(time.RFC3339)
	}
	return v
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func clientsAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("clients add", "clients add --name NAME --organization Organization/ID (--jwks-file FILE | --jwks-uri URL) --scope SCOPES [flags]", stderr)
	db := fs.String("db", defaultDB, "database: sqlite:PATH or postgres://…")
	var reg auth.Registration
	fs.StringVar(&reg.Name, "name", "", "the client system's name")
	fs.StringVar(&reg.Organization, "organization", "", "the organization it acts for: a reference to the directory's Organization (Organization/ID)")
	fs.StringVar(&reg.OrganizationName, "organization-name", "", "the organization's name, as recorded in audit records")
	contacts := fs.String("contact", "", "contacts (email or phone), comma-separated")
	jwksFile := fs.String("jwks-file", "", "file holding the client's public JWK Set (keys by value)")
	fs.StringVar(&reg.JWKSURI, "jwks-uri", "", "https URL serving the client's public JWK Set (preferred: keys can rotate)")
	jku := fs.String("jku", "", "JWKS URLs an assertion's jku header may name, comma-separated (default: none allowed)")
	fs.StringVar(&reg.Scope, "scope", "", `the most the client may be granted, space-separated, such as "system/*.rs"`)
	fs.StringVar(&reg.ClientID, "client-id", "", "use this client_id instead of a random one")
	roles := fs.String("role", "", "roles for usage restrictions, comma-separated: a restriction whose securityLabel has one of these codes (code, or system|code) permits the client")
	fs.BoolVar(&reg.SeesRestricted, "sees-restricted", false, "a directory operator's client for data stewardship: every usage restriction permits it (recorded in the audit trail)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	reg.Contacts = auth.SplitList(*contacts)
	reg.JKU = auth.SplitList(*jku)
	reg.Roles = auth.SplitList(*roles)
	if *jwksFile != "" {
		data, err := os.ReadFile(*jwksFile)
		if err != nil {
			return err
		}
		reg.JWKS = data
	}
	r, closeDB, err := openRegistry(ctx, *db)
	if err != nil {
		return err
	}
	defer closeDB()
	added, err := r.Add(server.AsOperator(ctx, operatorName(), "clients"), reg)
	if err != nil {
		return err
	}
	_, rec, err := r.Get(ctx, added.ClientID)
	if err != nil {
		return err
	}
	return printJSON(stdout, view(added, rec))
}

func clientsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("clients list", "clients list [--db URL]", stderr)
	db := fs.String("db", defaultDB, "database: sqlite:PATH or postgres://…")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	r, closeDB, err := openRegistry(ctx, *db)
	if err != nil {
		return err
	}
	defer closeDB()
	regs, recs, err := r.List(ctx)
	if err != nil {
		return err
	}
	out := make([]clientView, len(regs))
	for i := range regs {
		out[i] = view(regs[i], recs[i])
	}
	return printJSON(stdout, out)
}

// oneClient parses the flags and the client id of show, disable, enable.
func oneClient(ctx context.Context, name string, args []string, stderr io.Writer) (*auth.Registry, string, func(), error) {
	fs := newFlags("clients "+name, "clients "+name+" CLIENT_ID [--db URL]", stderr)
	db := fs.String("db", defaultDB, "database: sqlite:PATH or postgres://…")
	// Accept the id before or after the flags.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, "", nil, err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 || id == "" {
		fs.Usage()
		return nil, "", nil, errUsage
	}
	r, closeDB, err := openRegistry(ctx, *db)
	if err != nil {
		return nil, "", nil, err
	}
	return r, id, closeDB, nil
}

func clientsShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	r, id, closeDB, err := oneClient(ctx, "show", args, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	reg, rec, err := r.Get(ctx, id)
	if err != nil {
		return err
	}
	return printJSON(stdout, view(reg, rec))
}

func clientsSetDisabled(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) error {
	r, id, closeDB, err := oneClient(ctx, verb, args, stderr)
	if err != nil {
		return err
	}
	defer closeDB()
	if err := r.SetDisabled(server.AsOperator(ctx, operatorName(), "clients"), id, verb == "disable"); err != nil {
		return err
	}
	reg, rec, err := r.Get(ctx, id)
	if err != nil {
		return errors.Join(errors.New("changed, but cannot be read back"), err)
	}
	return printJSON(stdout, view(reg, rec))
}
