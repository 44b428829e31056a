package webhooks

// Signing secrets: made, sealed for storage, and used to sign as the
// Standard Webhooks specification says.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// secretPrefix marks a signing secret, as Standard Webhooks writes them:
// whsec_ and the key in base64.
const secretPrefix = "whsec_"

// secretBytes is the key's length: the specification asks for 24 to 64
// bytes, and HMAC-SHA256 gains nothing past its block's 64.
const secretBytes = 32

// newSecret returns a new signing secret.
func newSecret() (string, error) {
	key := make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("make a webhook secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// secretKey returns the HMAC key a secret holds.
func secretKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, secretPrefix)
	key, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || len(key) < 24 || len(key) > 64 {
		return nil, errors.New("not a whsec_ signing secret")
	}
	return key, nil
}

// signature returns the webhook-signature header of a message: a v1
// signature (base64 of HMAC-SHA256 over "id.timestamp.body") for each
// secret, separated by spaces, so that a receiver that knows either secret
// of a rotation accepts it.
func signature(secrets []string, msgID string, timestamp int64, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msgID + "." + strconv.FormatInt(timestamp, 10) + "."))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}

// Sealer seals signing secrets for storage, and opens them to sign. HMAC
// needs the secret itself, so it cannot be stored as a hash, as tokens
// are: it is encrypted with AES-256-GCM under a key derived from
// TOKEN_SECRET (HKDF-SHA256, for this use only), so that a copy of the
// database alone (a backup, a replica, a dump) gives no one the power to
// sign deliveries. Each sealed secret is bound to its endpoint's id, so it
// cannot be moved to another endpoint's row.
//
// A new TOKEN_SECRET makes the sealed secrets unreadable: deliveries then
// fail with INTERNAL until each endpoint's secret is rotated.
type Sealer struct {
	aead cipher.AEAD
}

// sealVersion leads every sealed secret, so that another scheme could
// come beside this one.
const sealVersion = 1

// NewSealer returns a Sealer whose key is derived from the server's token
// secret.
func NewSealer(tokenSecret []byte) (*Sealer, error) {
	if len(tokenSecret) < 32 {
		return nil, errors.New("the token secret must be at least 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, tokenSecret, nil, "customerservice webhook signing secrets v1", 32)
	if err != nil {
		return nil, fmt.Errorf("derive the webhook secrets' key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts the secret of endpoint id.
func (s *Sealer) Seal(id, secret string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal a webhook secret: %w", err)
	}
	return s.aead.Seal(append([]byte{sealVersion}, nonce...), nonce, []byte(secret), []byte(id)), nil
}

// Open decrypts a secret that Seal sealed for endpoint id.
func (s *Sealer) Open(id string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return "", errors.New("not a sealed webhook secret")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(id))
	if err != nil {
		return "", errors.New("the webhook secret cannot be unsealed: was TOKEN_SECRET changed?")
	}
	return string(plain), nil
}
