// Package backendtest is the conformance suite every backends.Backend
// implementation must pass. It knows only the backends interface: it
// creates and inspects objects through the Backend methods alone, so the
// same suite runs against the local directory, the in-memory backend, SFTP
// and S3 servers, and wrappers such as retry and fault injection.
//
// Use it from the implementation's test file:
//
//	func TestConformance(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backends.Backend {
//			be, err := local.Create(t.Context(), filepath.Join(t.TempDir(), "repo"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return be
//		})
//	}
package backendtest
