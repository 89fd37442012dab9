// `npm run demo:web` builds and previews the notes demo with this config.
import { demoViteConfig } from './demo-server.js';

export default demoViteConfig();
