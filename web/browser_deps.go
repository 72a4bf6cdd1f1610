//go:build tools

// This file pins the browser-test dependency (chromedp) in go.mod until the browser tests
// that import it exist.
package web

import _ "github.com/chromedp/chromedp"
