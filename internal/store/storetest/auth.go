package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vhdir/vhdir/internal/store"
)

// createClient registers c in a transaction of its own.
func createClient(ctx context.Context, s store.Store, c *store.ClientRecord) error {
	return s.Update(ctx, func(tx store.Tx) error { return tx.CreateClient(ctx, c) })
}

// updateClient changes c in a transaction of its own.
func updateClient(ctx context.Context, s store.Store, c *store.ClientRecord) error {
	return s.Update(ctx, func(tx store.Tx) error { return tx.UpdateClient(ctx, c) })
}

// sameTime reports whether got is want as stored: UTC, to the microsecond.
func sameTime(got, want time.Time) bool {
	return got.Equal(want.Truncate(time.Microsecond)) && got.Location() == time.UTC
}

func testAuthClients(t *testing.T, newDB NewDB) {
	a := openOne(t, newDB)
	ctx := context.Background()
	cet := time.FixedZone("CET", 3600)
	created := time.Date(2026, 3, 4, 5, 6, 7, 123456789, cet)
	updated := created.Add(36*time.Hour + 987*time.Nanosecond)
	tests := []struct {
		name string
		c    store.ClientRecord
	}{
		{"JSON kept byte for byte", store.ClientRecord{ID: "json", Data: []byte("{ \"client_name\" : \"Clinique \u00e9t\u00e9\",\n\t\"jwks\": {\"keys\": []} }\n"), Created: created, Updated: created}},
		{"disabled, updated later", store.ClientRecord{ID: "off", Data: []byte(`{}`), Disabled: true, Created: created, Updated: updated}},
		{"binary data", store.ClientRecord{ID: "bin", Data: []byte{0, 1, 0xfe, 0xff, '\'', '"', '\\'}, Created: created, Updated: updated}},
		{"empty data", store.ClientRecord{ID: "empty", Created: created, Updated: created}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.c
			if err := createClient(ctx, a, &in); err != nil {
				t.Fatalf("CreateClient(%s): %v", tt.c.ID, err)
			}
			got, err := a.Client(ctx, tt.c.ID)
			if err != nil {
				t.Fatalf("Client(%s): %v", tt.c.ID, err)
			}
			if got.ID != tt.c.ID || !bytes.Equal(got.Data, tt.c.Data) || got.Disabled != tt.c.Disabled {
				t.Errorf("Client(%s) = %q %q disabled=%v; want %q %q disabled=%v", tt.c.ID, got.ID, got.Data, got.Disabled, tt.c.ID, tt.c.Data, tt.c.Disabled)
			}
			if !sameTime(got.Created, tt.c.Created) || !sameTime(got.Updated, tt.c.Updated) {
				t.Errorf("Client(%s) times = %v, %v; want %v, %v in UTC to the microsecond", tt.c.ID, got.Created, got.Updated, tt.c.Created, tt.c.Updated)
			}
			dup := store.ClientRecord{ID: tt.c.ID, Data: []byte(`{"other":true}`), Created: updated, Updated: updated}
			if err := createClient(ctx, a, &dup); !errors.Is(err, store.ErrExists) {
				t.Errorf("CreateClient(%s) again error = %v; want ErrExists", tt.c.ID, err)
			}
			if again, err := a.Client(ctx, tt.c.ID); err != nil || !bytes.Equal(again.Data, tt.c.Data) {
				t.Errorf("after a duplicate create Client(%s) = %+v, %v; want the first registration", tt.c.ID, again, err)
			}
		})
	}

	t.Run("zero times are refused: the store keeps the caller's times only", func(t *testing.T) {
		for _, c := range []*store.ClientRecord{{ID: "no-times", Data: []byte(`{}`)}, {ID: "no-updated", Data: []byte(`{}`), Created: created}} {
			if err := createClient(ctx, a, c); err == nil {
				t.Errorf("CreateClient(%s) with a zero time succeeded; want an error", c.ID)
			}
			if got, err := a.Client(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("after a refused create Client(%s) = %+v, %v; want ErrNotFound", c.ID, got, err)
			}
		}
	})

	t.Run("a registration rolled back is not kept", func(t *testing.T) {
		boom := errors.New("boom")
		err := a.Update(ctx, func(tx store.Tx) error {
			if err := tx.CreateClient(ctx, &store.ClientRecord{ID: "rolled-back", Data: []byte(`{}`), Created: created, Updated: created}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update error = %v; want boom", err)
		}
		if got, err := a.Client(ctx, "rolled-back"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Client(rolled-back) = %+v, %v; want ErrNotFound", got, err)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		if c, err := a.Client(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Client(unknown) = %+v, %v; want ErrNotFound", c, err)
		}
		if err := updateClient(ctx, a, &store.ClientRecord{ID: "nobody", Data: []byte(`{}`), Updated: created}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateClient(unknown) error = %v; want ErrNotFound", err)
		}
		if _, err := a.Client(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateClient(unknown) created it: Client error = %v; want ErrNotFound", err)
		}
	})

	t.Run("update", func(t *testing.T) {
		tests := []struct {
			name     string
			id       string
			data     []byte
			disabled bool
			updated  time.Time // zero: refused
		}{
			{"disable with new data", "json", []byte(`{"client_name":"renamed"}`), true, updated.Add(time.Hour)},
			{"enable again", "off", []byte(`{"enabled": 1}`), false, updated.Add(2 * time.Hour)},
			{"zero Updated is refused", "bin", []byte(`[]`), true, time.Time{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				old, err := a.Client(ctx, tt.id)
				if err != nil {
					t.Fatal(err)
				}
				err = updateClient(ctx, a, &store.ClientRecord{ID: tt.id, Data: tt.data, Disabled: tt.disabled, Updated: tt.updated})
				if tt.updated.IsZero() {
					if err == nil {
						t.Errorf("UpdateClient(%s) with a zero Updated succeeded; want an error", tt.id)
					}
					if got, err := a.Client(ctx, tt.id); err != nil || !bytes.Equal(got.Data, old.Data) || !got.Updated.Equal(old.Updated) {
						t.Errorf("after a refused update Client(%s) = %+v, %v; want it unchanged", tt.id, got, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("UpdateClient(%s): %v", tt.id, err)
				}
				got, err := a.Client(ctx, tt.id)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Data, tt.data) || got.Disabled != tt.disabled {
					t.Errorf("after UpdateClient Client(%s) = %q disabled=%v; want %q disabled=%v", tt.id, got.Data, got.Disabled, tt.data, tt.disabled)
				}
				if !got.Created.Equal(old.Created) {
					t.Errorf("UpdateClient changed Created from %v to %v", old.Created, got.Created)
				}
				if !sameTime(got.Updated, tt.updated) {
					t.Errorf("Updated = %v; want %v", got.Updated, tt.updated)
				}
			})
		}
	})

	t.Run("list ordered by id", func(t *testing.T) {
		for _, id := range []string{"b", "B", "a", "_z", "A-1", "\u00c4"} {
			if err := createClient(ctx, a, &store.ClientRecord{ID: id, Data: []byte(id), Created: created, Updated: created}); err != nil {
				t.Fatal(err)
			}
		}
		list, err := a.Clients(ctx)
		if err != nil {
			t.Fatalf("Clients: %v", err)
		}
		var got []string
		for _, c := range list {
			got = append(got, c.ID)
			one, err := a.Client(ctx, c.ID)
			if err != nil || !bytes.Equal(one.Data, c.Data) || one.Disabled != c.Disabled || !one.Created.Equal(c.Created) || !one.Updated.Equal(c.Updated) {
				t.Errorf("Clients entry %+v differs from Client(%s) = %+v, %v", c, c.ID, one, err)
			}
		}
		want := []string{"b", "B", "a", "_z", "A-1", "\u00c4", "json", "off", "bin", "empty"}
		sort.Strings(want) // byte order
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Clients ids = %q; want %q", got, want)
		}
	})
}

func testAuthClientsEmpty(t *testing.T, newDB NewDB) {
	a := openOne(t, newDB)
	list, err := a.Clients(context.Background())
	if err != nil || len(list) != 0 {
		t.Errorf("Clients of an empty store = %d clients, %v; want none", len(list), err)
	}
}

func testAuthAssertions(t *testing.T, newDB NewDB) {
	a := openOne(t, newDB)
	ctx := context.Background()
	now := time.Now()
	steps := []struct {
		name        string
		client, jti string
		until       time.Time
		want        bool
	}{
		{"first use", "c1", "j1", now.Add(time.Hour), true},
		{"replay", "c1", "j1", now.Add(time.Hour), false},
		{"replay claiming a later expiry", "c1", "j1", now.Add(2 * time.Hour), false},
		{"same jti, other client", "c2", "j1", now.Add(time.Hour), true},
		{"replay by the other client", "c2", "j1", now.Add(time.Hour), false},
		{"other jti", "c1", "j2", now.Add(time.Hour), true},
		{"use that expired already", "c1", "j3", now.Add(-time.Hour), true},
		{"reuse after expiry", "c1", "j3", now.Add(time.Hour), true},
		{"replay of the reuse", "c1", "j3", now.Add(time.Hour), false},
		{"use expiring in a minute", "c1", "j4", now.Add(time.Minute), true},
		{"replay before it expires", "c1", "j4", now.Add(3 * time.Hour), false},
	}
	for _, st := range steps {
		got, err := a.UseAssertion(ctx, store.AssertionUse{ClientID: st.client, JTI: st.jti, Now: time.Now(), Until: st.until})
		if err != nil || got != st.want {
			t.Errorf("%s: UseAssertion(%s, %s) = %v, %v; want %v", st.name, st.client, st.jti, got, err, st.want)
		}
	}
	// A refused replay records nothing: j4 still expires in a minute, not
	// in three hours, so purging at two hours removes it and j1 (one hour),
	// and a new use of either succeeds. j3's reuse stored its new expiry.
	if err := a.PurgeAuth(ctx, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, st := range []struct {
		name, jti string
		want      bool
	}{{"refused replay kept the old expiry", "j4", true}, {"j1 purged", "j1", true}} {
		if got, err := a.UseAssertion(ctx, store.AssertionUse{ClientID: "c1", JTI: st.jti, Now: time.Now(), Until: now.Add(time.Hour)}); err != nil || got != st.want {
			t.Errorf("%s: UseAssertion(c1, %s) after purge = %v, %v; want %v", st.name, st.jti, got, err, st.want)
		}
	}
}

// testAuthAssertionRace has two nodes (two handles to one database) use
// each assertion id at the same moment: exactly one use must win, for a
// new id and for one whose earlier use expired.
func testAuthAssertionRace(t *testing.T, newDB NewDB) {
	open := newDB(t)
	h1, h2 := open(), open()
	t.Cleanup(func() { h1.Close(); h2.Close() })
	nodes := [2]store.Store{h1, h2}
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	const rounds = 50
	for i := range rounds {
		jti := fmt.Sprint("race-", i)
		expired := i%2 == 1
		if expired {
			if ok, err := nodes[0].UseAssertion(ctx, store.AssertionUse{ClientID: "racer", JTI: jti, Now: time.Now(), Until: time.Now().Add(-time.Minute)}); err != nil || !ok {
				t.Fatalf("earlier use of %s = %v, %v; want true", jti, ok, err)
			}
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var won [2]bool
		var errs [2]error
		for n, node := range nodes {
			wg.Go(func() {
				<-start
				won[n], errs[n] = node.UseAssertion(ctx, store.AssertionUse{ClientID: "racer", JTI: jti, Now: time.Now(), Until: until})
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("racing UseAssertion(%s): %v, %v", jti, errs[0], errs[1])
		}
		if won[0] == won[1] {
			t.Errorf("racing uses of %s (earlier use expired: %v) won %v and %v; want exactly one", jti, expired, won[0], won[1])
		}
		for n, node := range nodes {
			if ok, err := node.UseAssertion(ctx, store.AssertionUse{ClientID: "racer", JTI: jti, Now: time.Now(), Until: until}); err != nil || ok {
				t.Errorf("node %d replaying %s after the race = %v, %v; want false", n, jti, ok, err)
			}
		}
	}
}

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testAuthTokens(t *testing.T, newDB NewDB) {
	a := openOne(t, newDB)
	ctx := context.Background()
	issued := time.Date(2026, 5, 6, 7, 8, 9, 987654321, time.FixedZone("EST", -5*3600))
	tests := []struct {
		name string
		tok  store.TokenRecord
	}{
		{"valid", store.TokenRecord{Hash: tokenHash("a"), ClientID: "c1", Scope: "system/Practitioner.read system/Organization.read", IssuedAt: time.Now(), Expires: time.Now().Add(5 * time.Minute)}},
		{"expired is still returned", store.TokenRecord{Hash: tokenHash("b"), ClientID: "c1", Scope: "system/*.read", IssuedAt: issued, Expires: issued.Add(5 * time.Minute)}},
		{"other client, no scope", store.TokenRecord{Hash: tokenHash("c"), ClientID: "c2", IssuedAt: issued, Expires: issued.Add(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.tok
			if err := a.PutToken(ctx, &in); err != nil {
				t.Fatalf("PutToken: %v", err)
			}
			got, err := a.Token(ctx, tt.tok.Hash)
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if !bytes.Equal(got.Hash, tt.tok.Hash) || got.ClientID != tt.tok.ClientID || got.Scope != tt.tok.Scope ||
				!sameTime(got.IssuedAt, tt.tok.IssuedAt) || !sameTime(got.Expires, tt.tok.Expires) {
				t.Errorf("Token = %+v; want %+v (times in UTC to the microsecond)", got, tt.tok)
			}
			dup := tt.tok
			dup.ClientID = "intruder"
			if err := a.PutToken(ctx, &dup); !errors.Is(err, store.ErrExists) {
				t.Errorf("PutToken with a stored hash error = %v; want ErrExists", err)
			}
			if again, err := a.Token(ctx, tt.tok.Hash); err != nil || again.ClientID != tt.tok.ClientID {
				t.Errorf("after a duplicate PutToken Token = %+v, %v; want client %s", again, err, tt.tok.ClientID)
			}
		})
	}
	for _, h := range [][]byte{tokenHash("unknown"), tokenHash("a")[:31], {}} {
		if tok, err := a.Token(ctx, h); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Token(%x) = %+v, %v; want ErrNotFound", h, tok, err)
		}
	}
}

// testAuthPurge checks both sides of PurgeAuth's boundary: rows expiring
// before now go, rows expiring at now or later stay.
func testAuthPurge(t *testing.T, newDB NewDB) {
	a := openOne(t, newDB)
	ctx := context.Background()
	// In the future, so that assertions kept are still unexpired when
	// checked.
	cut := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	rows := []struct {
		name    string
		expires time.Time
		kept    bool
	}{
		{"long expired", cut.Add(-2 * time.Hour), false},
		{"a microsecond before", cut.Add(-time.Microsecond), false},
		{"at the cut", cut, true},
		{"a microsecond after", cut.Add(time.Microsecond), true},
		{"much later", cut.Add(24 * time.Hour), true},
	}
	if err := createClient(ctx, a, &store.ClientRecord{ID: "c", Data: []byte(`{}`), Created: time.Now(), Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if ok, err := a.UseAssertion(ctx, store.AssertionUse{ClientID: "c", JTI: r.name, Now: time.Now(), Until: r.expires}); err != nil || !ok {
			t.Fatalf("UseAssertion(%s) = %v, %v", r.name, ok, err)
		}
		if err := a.PutToken(ctx, &store.TokenRecord{Hash: tokenHash(r.name), ClientID: "c", IssuedAt: cut.Add(-3 * time.Hour), Expires: r.expires}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PurgeAuth(ctx, cut); err != nil {
		t.Fatalf("PurgeAuth: %v", err)
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			tok, err := a.Token(ctx, tokenHash(r.name))
			switch {
			case r.kept && (err != nil || !sameTime(tok.Expires, r.expires)):
				t.Errorf("token expiring %v after PurgeAuth(%v): %+v, %v; want kept", r.expires, cut, tok, err)
			case !r.kept && !errors.Is(err, store.ErrNotFound):
				t.Errorf("token expiring %v after PurgeAuth(%v): %+v, %v; want ErrNotFound (purged)", r.expires, cut, tok, err)
			}
			// A purged assertion id is free again; a kept one is a replay.
			ok, err := a.UseAssertion(ctx, store.AssertionUse{ClientID: "c", JTI: r.name, Now: time.Now(), Until: cut.Add(48 * time.Hour)})
			if err != nil || ok == r.kept {
				t.Errorf("UseAssertion of the id expiring %v after PurgeAuth(%v) = %v, %v; want %v", r.expires, cut, ok, err, !r.kept)
			}
		})
	}
	if _, err := a.Client(ctx, "c"); err != nil {
		t.Errorf("PurgeAuth removed a client: %v", err)
	}
}

// testAuthIssueToken: the assertion's use and the token commit together,
// a replay stores neither, judged by the caller's clock; many concurrent
// issues on two nodes (committed in shared transactions) each get exactly
// their own outcome.
func testAuthIssueToken(t *testing.T, newDB NewDB) {
	open := newDB(t)
	h1, h2 := open(), open()
	t.Cleanup(func() { h1.Close(); h2.Close() })
	nodes := [2]store.Store{h1, h2}
	ctx := context.Background()
	// A clock far from the database's: expiry is judged by it.
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	use := func(jti string) store.AssertionUse {
		return store.AssertionUse{ClientID: "c", JTI: jti, Now: now, Until: now.Add(6 * time.Minute)}
	}
	tok := func(name string) *store.TokenRecord {
		return &store.TokenRecord{Hash: tokenHash(name), ClientID: "c", Scope: "system/*.rs", IssuedAt: now, Expires: now.Add(5 * time.Minute)}
	}
	if ok, err := nodes[0].IssueToken(ctx, use("j1"), tok("t1")); err != nil || !ok {
		t.Fatalf("first IssueToken = %v, %v; want true", ok, err)
	}
	if got, err := nodes[1].Token(ctx, tokenHash("t1")); err != nil || got.ClientID != "c" {
		t.Fatalf("token t1 on the other node = %+v, %v", got, err)
	}
	if ok, err := nodes[1].IssueToken(ctx, use("j1"), tok("t2")); err != nil || ok {
		t.Fatalf("replayed IssueToken = %v, %v; want false", ok, err)
	}
	if _, err := nodes[0].Token(ctx, tokenHash("t2")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of a replay = %v; want ErrNotFound (nothing stored)", err)
	}
	later := use("j1")
	later.Now = now.Add(7 * time.Minute) // the first use has expired by the caller's clock
	if ok, err := nodes[1].IssueToken(ctx, later, tok("t3")); err != nil || !ok {
		t.Errorf("IssueToken after the use expired = %v, %v; want true", ok, err)
	}
	if ok, err := nodes[0].IssueToken(ctx, use("j9"), tok("t1")); err == nil || ok {
		t.Errorf("IssueToken with a stored token hash = %v, %v; want an error", ok, err)
	}
	if ok, err := nodes[0].UseAssertion(ctx, use("j9")); err != nil || !ok {
		t.Errorf("the assertion of a failed IssueToken = %v, %v; want unused (true)", ok, err)
	}

	// 16 callers per node, each jti used twice (once per node) at once.
	const n = 16
	var wg sync.WaitGroup
	wins := make([][2]bool, n)
	errs := make([][2]error, n)
	for i := range n {
		for k, node := range nodes {
			wg.Go(func() {
				jti := fmt.Sprint("burst-", i)
				wins[i][k], errs[i][k] = node.IssueToken(ctx, use(jti), tok(fmt.Sprint(jti, "-", k)))
			})
		}
	}
	wg.Wait()
	for i := range n {
		if errs[i][0] != nil || errs[i][1] != nil {
			t.Fatalf("burst %d: %v, %v", i, errs[i][0], errs[i][1])
		}
		if wins[i][0] == wins[i][1] {
			t.Errorf("burst %d: both nodes %v; want exactly one token", i, wins[i][0])
		}
		for k, node := range nodes {
			_, err := node.Token(ctx, tokenHash(fmt.Sprint("burst-", i, "-", k)))
			if stored := err == nil; stored != wins[i][k] {
				t.Errorf("burst %d node %d: won %v but token stored %v (%v)", i, k, wins[i][k], stored, err)
			}
		}
	}
}
