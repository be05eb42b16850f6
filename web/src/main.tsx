import { render } from 'preact';
import { App } from './app';
import { initializeAuth } from './auth';
import './styles.css';

const root = document.getElementById('app');
if (!root) throw new Error('The page has no #app element to render the portal into.');
initializeAuth()
  .then((settings) => render(<App signIn={settings} />, root))
  .catch(() => {
    root.textContent = 'The portal could not start: the service did not answer. Reload to try again.';
  });
