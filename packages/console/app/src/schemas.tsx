// The schema registry: event types, their compatibility mode and every version's JSON Schema, and
// the bindings (which stream patterns accept which types).
import type { SchemaBinding, SchemaType } from '@strand/wire/schemas_pb.js';
import { useEffect, useState } from 'preact/hooks';
import { type Failure, failure, prettyJson } from './api.js';
import type { Session } from './app.js';
import { ErrorBanner, time } from './common.js';

export function Schemas({ session }: { session: Session }) {
  const [types, setTypes] = useState<SchemaType[] | undefined>();
  const [error, setError] = useState<Failure | undefined>();
  const [bindings, setBindings] = useState<SchemaBinding[] | undefined>();
  const [open, setOpen] = useState<string | undefined>();
  useEffect(() => {
    Promise.all([session.api.schemas.listSchemas({}), session.api.schemas.listBindings({})]).then(
      ([t, b]) => {
        setTypes(t.types);
        setBindings(b.bindings);
      },
      (err: unknown) => setError(failure(err)),
    );
  }, [session]);
  return (
    <div class="schemas">
      <ErrorBanner error={error} />
      {types !== undefined && types.length === 0 && <p class="muted">No event type has a registered schema.</p>}
      {types !== undefined && types.length > 0 && (
        <table class="events">
          <thead>
            <tr>
              <th scope="col">Type</th>
              <th scope="col">Compatibility</th>
              <th scope="col">Versions</th>
            </tr>
          </thead>
          <tbody>
            {types.map((t) => (
              <tr key={t.type} data-type={t.type}>
                <td class="type">{t.type}</td>
                <td>{t.compatibility}</td>
                <td>
                  {t.versions.map((v) => (
                    <button
                      key={v.version}
                      type="button"
                      class="link version"
                      aria-expanded={open === `${t.type}@${v.version}`}
                      onClick={() => setOpen(open === `${t.type}@${v.version}` ? undefined : `${t.type}@${v.version}`)}
                    >
                      v{v.version}
                    </button>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {types?.flatMap((t) =>
        t.versions
          .filter((v) => open === `${t.type}@${v.version}`)
          .map((v) => (
            <section class="card" key={`${t.type}@${v.version}`} aria-label={`${t.type} version ${v.version}`}>
              <h2>
                {t.type} v{v.version}
              </h2>
              <p class="muted">registered {time(v.registeredAt)}</p>
              <pre class="json" data-field="json-schema">
                {prettyJson(v.jsonSchema)}
              </pre>
            </section>
          )),
      )}
      <section class="card bindings" aria-label="Bindings">
        <h2>Bindings</h2>
        {bindings !== undefined && bindings.length === 0 && <p class="muted">No stream pattern is bound: every stream accepts any type (registered types are still validated).</p>}
        {bindings !== undefined && bindings.length > 0 && (
          <table class="events">
            <thead>
              <tr>
                <th scope="col">Stream pattern</th>
                <th scope="col">Accepts only</th>
              </tr>
            </thead>
            <tbody>
              {bindings.map((b) => (
                <tr key={b.pattern} data-binding={b.pattern}>
                  <td>
                    <code>{b.pattern}</code>
                  </td>
                  <td class="type">
                    {b.types.map((t) => (
                      <code key={t}>{t}</code>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
