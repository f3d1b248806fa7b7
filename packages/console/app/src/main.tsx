// Entry point of the Strand Console (built by Vite into packages/console/dist/ui).
import { render } from 'preact';
import { App } from './app.js';
import './style.css';

render(<App />, document.getElementById('app')!);
