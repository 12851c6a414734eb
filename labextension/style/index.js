import './base.css';
import './tables.css';
import './models.css';
import './pipelines.css';
import './monitoring.css';
import './features.css';
import './views.css';
