package repo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godwit-backup/godwit/backends"
	"github.com/godwit-backup/godwit/chunk"
	"github.com/godwit-backup/godwit/crypto"
	"github.com/godwit-backup/godwit/repo/blob"
	"github.com/godwit-backup/godwit/repo/index"
	"github.com/godwit-backup/godwit/repo/pack"
)

var (
	// ErrNewerVersion means the repository was written by a newer godwit.
	ErrNewerVersion = errors.New("repository format too new")
	// ErrCorrupt marks an object or blob that failed authentication or
	// whose content does not match its id.
	ErrCorrupt = errors.New("corrupted or tampered with")
)

// Repository is an open repository. Its methods are safe for concurrent
// use unless noted.
type Repository struct {
	be    backends.Backend
	keys  *crypto.Keys
	cfg   Config
	codec *pack.Codec
	idx   *index.Index

	keyName string         // the key object that unlocked it ("" for a write key)
	keyInfo crypto.KeyInfo // its description

	saver  *saver
	reader *blobReader

	// indexErr is what LoadIndex could not read, so that a blob missing
	// from the index is not reported as lost when its index object was
	// only unreadable.
	indexErr atomic.Pointer[error]

	locksMu  sync.Mutex
	released map[string]bool // locks released but not removed; guarded by locksMu
}

// InitOptions configures a new repository.
type InitOptions struct {
	Scheme      crypto.Scheme
	PackSize    int
	Credentials []crypto.Credential
	Host        string
	Username    string
	Now         time.Time
}

// Init creates a repository on be, which must be empty, with one key
// object per credential. Key objects are written before the config, so a
// config never exists without a way to open it.
func Init(ctx context.Context, be backends.Backend, opts InitOptions) (*Repository, error) {
	if len(opts.Credentials) == 0 {
		return nil, errors.New("init: no owner credential given")
	}
	if _, err := be.Stat(ctx, backends.Handle{Type: backends.ConfigFile}); err == nil {
		return nil, fmt.Errorf("init: repository %s already exists", be.Location())
	} else if !backends.IsNotExist(err) {
		return nil, fmt.Errorf("init: %w", err)
	}
	if opts.Scheme == "" {
		opts.Scheme = crypto.SchemePQ
	}
	if opts.PackSize == 0 {
		opts.PackSize = DefaultPackSize
	}
	var rawID [16]byte
	if _, err := rand.Read(rawID[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(rawID[:])
	pol, err := chunk.RandomPolynomial()
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	keys, err := crypto.Generate(opts.Scheme, id, pol)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	secrets, err := keys.MarshalConfigSecrets()
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	cfg := Config{
		Version:     FormatVersion,
		ID:          id,
		Created:     opts.Now.UTC(),
		PackSize:    opts.PackSize,
		Compression: "zstd",
		Scheme:      string(opts.Scheme),
		Keys:        secrets,
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	r, err := newRepository(be, keys, cfg)
	if err != nil {
		return nil, err
	}
	for i, c := range opts.Credentials {
		name, info, err := r.AddKey(ctx, c, crypto.KeyInfo{Host: opts.Host, Username: opts.Username, Created: opts.Now})
		if err != nil {
			return nil, fmt.Errorf("init: %w", err)
		}
		if i == 0 {
			r.keyName, r.keyInfo = name, info
		}
	}
	plain, err := json.Marshal(&cfg)
	if err != nil {
		return nil, err
	}
	sealed, err := keys.SealMeta(plain)
	if err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	if err := be.Save(ctx, backends.Handle{Type: backends.ConfigFile}, sealed); err != nil {
		return nil, fmt.Errorf("init: %w", err)
	}
	return r, nil
}

func newRepository(be backends.Backend, keys *crypto.Keys, cfg Config) (*Repository, error) {
	codec, err := pack.NewCodec()
	if err != nil {
		return nil, err
	}
	r := &Repository{be: be, keys: keys, cfg: cfg, codec: codec, idx: index.New()}
	r.saver = newSaver(r)
	r.reader = newBlobReader(r)
	return r, nil
}

// Unlocker holds what the user unlocks a repository with: owner
// identities (a passphrase, age or SSH identities) or a write key.
type Unlocker struct {
	Identities crypto.Identities
	WriteKey   *crypto.WriteKey
}

// Open unlocks the repository on be and reads its config. It does not load
// the index; call LoadIndex before saving or loading blobs.
func Open(ctx context.Context, be backends.Backend, u Unlocker) (*Repository, error) {
	var r *Repository
	sealedCfg, err := backends.LoadAll(ctx, be, backends.Handle{Type: backends.ConfigFile})
	if err != nil {
		if backends.IsNotExist(err) {
			return nil, fmt.Errorf("repository %s does not exist (run godwit init first): %w", be.Location(), err)
		}
		return nil, fmt.Errorf("load config: %w", err)
	}
	if u.WriteKey != nil {
		keys := u.WriteKey.Keys()
		cfg, err := readConfig(keys, sealedCfg, be.Location())
		if err != nil {
			if errors.Is(err, errConfigSealed) {
				return nil, fmt.Errorf("decrypt config: this write key does not belong to repository %s: %w", be.Location(), crypto.ErrNoMatchingKey)
			}
			return nil, err
		}
		return newRepository(be, keys, cfg)
	}
	// Try every key object the identities open: one planted by someone
	// who knows an owner's public key opens too, but its keys do not
	// decrypt the real config, so it must not stop the search.
	var errs []error
	found := false
	err = eachOwnerKey(ctx, be, u.Identities, func(name string, keys *crypto.Keys, info crypto.KeyInfo) bool {
		found = true
		cfg, err := readConfig(keys, sealedCfg, be.Location())
		if err != nil {
			errs = append(errs, fmt.Errorf("keys/%s opens but does not match the config: %w", name, err))
			return false
		}
		r, err = newRepository(be, keys, cfg)
		if err != nil {
			errs = append(errs, err)
			return false
		}
		r.keyName, r.keyInfo = name, info
		return true
	})
	if r != nil {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	if found {
		return nil, fmt.Errorf("config of %s: %w", be.Location(), errors.Join(errs...))
	}
	return nil, fmt.Errorf("wrong passphrase or identity for %s: %w", be.Location(), crypto.ErrNoMatchingKey)
}

var errConfigSealed = errors.New("config cannot be decrypted with this key")

// readConfig decrypts, decodes and checks the config with keys, and loads
// its secrets into keys.
func readConfig(keys *crypto.Keys, sealed []byte, location string) (Config, error) {
	var cfg Config
	plain, err := keys.OpenMeta(sealed)
	if err != nil {
		return cfg, fmt.Errorf("decrypt config: %v: %w", err, errConfigSealed)
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return cfg, fmt.Errorf("decode config: %v: %w", err, ErrCorrupt)
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	if err := keys.LoadConfigSecrets(cfg.ID, cfg.Keys); err != nil {
		return cfg, fmt.Errorf("config of %s: %w", location, err)
	}
	if err := chunk.CheckPolynomial(keys.Polynomial()); err != nil {
		return cfg, fmt.Errorf("config of %s: %v: %w", location, err, ErrCorrupt)
	}
	return cfg, nil
}

// eachOwnerKey calls fn for every key object the identities open, until
// fn returns true. Key objects that cannot be loaded are reported in the
// error only when no key object satisfied fn.
func eachOwnerKey(ctx context.Context, be backends.Backend, ids crypto.Identities, fn func(name string, keys *crypto.Keys, info crypto.KeyInfo) bool) error {
	if ids.Empty() {
		return fmt.Errorf("no passphrase or identity given: %w", crypto.ErrNoMatchingKey)
	}
	var names []string
	err := be.List(ctx, backends.KeyFile, func(fi backends.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		data, err := backends.LoadAll(ctx, be, backends.Handle{Type: backends.KeyFile, Name: name})
		if err != nil {
			errs = append(errs, fmt.Errorf("load keys/%s: %w", name, err))
			continue
		}
		if types, err := crypto.StanzaTypes(data); err == nil && !ids.CanOpen(types) {
			continue // cannot be for these identities: skip the work
		}
		keys, info, err := crypto.OpenKeyObject(data, ids)
		if err != nil {
			if !errors.Is(err, crypto.ErrNoMatchingKey) {
				errs = append(errs, fmt.Errorf("keys/%s: %w", name, err))
			}
			continue
		}
		if fn(name, keys, info) {
			return nil
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("no key object could be opened with the given credentials (%w); also: %w", crypto.ErrNoMatchingKey, errors.Join(errs...))
	}
	return nil
}

// Backend returns the backend the repository is stored on.
func (r *Repository) Backend() backends.Backend { return r.be }

// Config returns the repository's config.
func (r *Repository) Config() Config { return r.cfg }

// Keys returns the unlocked keys.
func (r *Repository) Keys() *crypto.Keys { return r.keys }

// Index returns the in-memory index.
func (r *Repository) Index() *index.Index { return r.idx }

// CanReadData reports whether the repository was opened with an owner
// credential (and so can read packs).
func (r *Repository) CanReadData() bool { return r.keys.CanReadData() }

// CurrentKey returns the name and description of the key object that
// unlocked the repository; the name is empty for a write key.
func (r *Repository) CurrentKey() (string, crypto.KeyInfo) { return r.keyName, r.keyInfo }

// BlobID returns the keyed id of data.
func (r *Repository) BlobID(data []byte) blob.ID { return blob.ID(r.keys.BlobID(data)) }

// Close releases the codec. It does not flush; call Flush first.
func (r *Repository) Close() error {
	r.codec.Close()
	return nil
}

// saveMeta encrypts plaintext to M and stores it under its keyed hash.
func (r *Repository) saveMeta(ctx context.Context, t backends.FileType, plaintext []byte) (blob.ID, error) {
	id := blob.ID(r.keys.MetaID(plaintext))
	sealed, err := r.keys.SealMeta(plaintext)
	if err != nil {
		return id, err
	}
	h := backends.Handle{Type: t, Name: id.String()}
	if err := r.be.Save(ctx, h, sealed); err != nil {
		return id, fmt.Errorf("save %s: %w", h, err)
	}
	return id, nil
}

// loadMeta loads, decrypts and authenticates a metadata object: its name
// must be the keyed hash of its plaintext.
func (r *Repository) loadMeta(ctx context.Context, t backends.FileType, name string) ([]byte, error) {
	h := backends.Handle{Type: t, Name: name}
	sealed, err := backends.LoadAll(ctx, r.be, h)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", h, err)
	}
	plain, err := r.keys.OpenMeta(sealed)
	if err != nil {
		return nil, fmt.Errorf("decrypt %s: %v: %w", h, err, ErrCorrupt)
	}
	if got := blob.ID(r.keys.MetaID(plain)); got.String() != name {
		return nil, fmt.Errorf("%s: content does not match its name: %w", h, ErrCorrupt)
	}
	return plain, nil
}

// listNames returns the names of every object of type t.
func (r *Repository) listNames(ctx context.Context, t backends.FileType) ([]string, error) {
	var names []string
	err := r.be.List(ctx, t, func(fi backends.FileInfo) error {
		names = append(names, fi.Name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t, err)
	}
	return names, nil
}

// LoadIndex reads every index object into the in-memory index. Index
// objects that cannot be read are reported in the returned error after
// the others are loaded; LoadBlob names that error when it does not find a
// blob in the index.
func (r *Repository) LoadIndex(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			r.indexErr.Store(&err)
		} else {
			r.indexErr.Store(nil)
		}
	}()
	names, err := r.listNames(ctx, backends.IndexFile)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		plain, err := r.loadMeta(ctx, backends.IndexFile, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f, err := index.Unmarshal(plain)
		if err != nil {
			errs = append(errs, fmt.Errorf("index/%s: %w", name, err))
			continue
		}
		if err := r.idx.AddFile(f); err != nil {
			errs = append(errs, fmt.Errorf("index/%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// IndexError returns the error of the last LoadIndex if it could not read
// every index object, or nil: blobs missing from the in-memory index may
// then be stored all the same.
func (r *Repository) IndexError() error {
	if p := r.indexErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Polynomial returns the chunker polynomial of the repository.
func (r *Repository) Polynomial() uint64 { return r.keys.Polynomial() }

// BlobSize returns the plaintext length of an indexed blob.
func (r *Repository) BlobSize(id blob.ID) (uint32, bool) {
	loc, ok := r.idx.Lookup(id)
	return loc.Length, ok
}
