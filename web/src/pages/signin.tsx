import { useEffect, useState } from 'preact/hooks';
import { demoIdentities, signInAsDemo, signInWithEntra, type DemoIdentities, type SignInSettings } from '../auth';
import { Alert, useAction } from '../ui/kit';
import { OPERATOR_ROLE } from '../session';

export function SignInPage({ settings, onSignedIn }: { settings: SignInSettings; onSignedIn: () => void }) {
  useEffect(() => {
    document.title = 'Sign in · Gatehouse';
  }, []);
  return (
    <main id="main" class="signin">
      <h1>Sign in to Gatehouse</h1>
      {settings.kind === 'entra' && (
        <button type="button" class="button button-primary" onClick={() => void signInWithEntra()}>
          Sign in with Microsoft
        </button>
      )}
      {settings.kind === 'development' && <DevelopmentSignIn onSignedIn={onSignedIn} />}
      {settings.kind === 'unavailable' && <p role="alert">Sign-in is not configured for this deployment (PORTAL_CLIENT_ID).</p>}
    </main>
  );
}

function DevelopmentSignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [choices, setChoices] = useState<DemoIdentities>();
  const [email, setEmail] = useState('');
  const [operator, setOperator] = useState(false);
  const [busy, error, run] = useAction();
  useEffect(() => {
    void demoIdentities().then((value) => {
      setChoices(value);
      setEmail(value.identities[0]?.email ?? '');
    });
  }, []);
  if (!choices) return <p role="status">Loading…</p>;
  return (
    <form
      class="card"
      onSubmit={(event) => {
        event.preventDefault();
        void run(async () => {
          await signInAsDemo(email, operator ? [OPERATOR_ROLE] : []);
          onSignedIn();
        });
      }}
    >
      <p class="hint">Development sign-in: pick a demo identity. It exists only while the app trusts the development issuer.</p>
      <fieldset>
        <legend>Demo identity</legend>
        {choices.identities.map((identity) => (
          <label key={identity.email} class="radio">
            <input type="radio" name="identity" value={identity.email} checked={email === identity.email} onChange={() => setEmail(identity.email)} />
            {identity.displayName}{' '}
            <span class="hint">
              ({identity.email}, {identity.organization})
            </span>
          </label>
        ))}
      </fieldset>
      <label class="checkbox">
        <input type="checkbox" checked={operator} onChange={(event) => setOperator(event.currentTarget.checked)} />
        Service operator (reviews free pipeline grants)
      </label>
      <Alert error={error} />
      <button type="submit" class="button button-primary" disabled={busy || !email}>
        Sign in
      </button>
    </form>
  );
}
