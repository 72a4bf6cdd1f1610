// admin-forms.js: how the admin view's forms talk to the server. A form is sent by a function
// that resolves with a confirmation or throws the server's error; an error shows next to the
// field it names (data-error-for), or under the form (.form-error) when it names none.

// wire submits f with send(f), shows its confirmation in f's .ok, and clears a field's error
// as soon as the field is edited.
export function wire (f, send) {
  if (!f) return
  f.addEventListener('submit', async (e) => {
    e.preventDefault()
    clearErrors(f)
    const button = f.querySelector('button[type=submit]')
    button.disabled = true
    try {
      const ok = await send(f)
      const slot = f.querySelector('.ok')
      if (slot) slot.textContent = ok || ''
    } catch (err) {
      showError(f, err)
    } finally {
      button.disabled = false
    }
  })
  f.addEventListener('input', (e) => { if (e.target.name) clearError(f, e.target.name) })
}

// values returns a form's fields, trimmed, by name.
export function values (f) {
  return Object.fromEntries([...new FormData(f)].map(([k, v]) => [k, String(v).trim()]))
}

// list splits a comma-separated field into its non-empty items.
export const list = (s = '') => s.split(',').map((x) => x.trim()).filter(Boolean)

// fieldError is an error to show next to a field, raised before anything is sent.
export const fieldError = (field, message) => Object.assign(new Error(message), { field })

// showError puts the error next to the field it names, or under the form.
export function showError (f, err) {
  const slot = err.field && f.querySelector(`[data-error-for="${CSS.escape(err.field)}"]`)
  if (!slot) {
    f.querySelector('.form-error').textContent = err.status === 403 ? `Not allowed: ${err.message}` : err.message
    return
  }
  slot.textContent = err.message
  const input = f.elements.namedItem(err.field)
  input?.setAttribute('aria-invalid', 'true')
  input?.focus()
}

export function clearError (f, field) {
  const slot = f.querySelector(`[data-error-for="${CSS.escape(field)}"]`)
  if (slot) slot.textContent = ''
  f.elements.namedItem(field)?.removeAttribute('aria-invalid')
}

export function clearErrors (f) {
  for (const el of f.querySelectorAll('[data-error-for]')) clearError(f, el.dataset.errorFor)
  f.querySelector('.form-error').textContent = ''
  const ok = f.querySelector('.ok')
  if (ok) ok.textContent = ''
}
