// Streamlit's component protocol, by hand so that no npm build is needed: announce readiness, receive
// "streamlit:render" with the Python arguments, answer with the frame height and the component's value.
const send = (type, data) => window.parent.postMessage({isStreamlitMessage: true, type, ...data}, "*");
const setValue = (value) => send("streamlit:setComponentValue", {value, dataType: "json"});

const preview = document.getElementById("preview");
const button = document.getElementById("record");
const status = document.getElementById("status");
const BITS_PER_SECOND = 1000000;  // keeps a 10 s recording near 1.3 MB
const ERRORS = {
  NotAllowedError: "Camera permission denied: allow the camera for this page in the browser, then press Try again.",
  NotFoundError: "No camera found: connect one and press Try again, or upload a video instead.",
  OverconstrainedError: "No usable camera found: connect one and press Try again, or upload a video instead.",
  NotReadableError: "The camera is in use by another application: close it, then press Try again.",
  SecurityError: "The camera needs a secure page: open the lab on localhost or over https.",
};
let seconds = 3, stream = null, starting = false, failed = false, recording = false;

async function startCamera() {
  starting = true;
  button.disabled = true;
  status.textContent = "Starting the camera…";
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw {name: "SecurityError"};
    stream = await navigator.mediaDevices.getUserMedia({video: {width: {ideal: 640}, height: {ideal: 480}}, audio: false});
    preview.srcObject = stream;
    preview.hidden = false;
    if (failed) setValue(null);  // clears the error line on the page
    failed = false;
    showIdle();
  } catch (error) {
    failed = true;
    const message = ERRORS[error.name] || `The camera could not be started (${error.name || error}).`;
    setValue({error: message});  // shown by the page as one error line
    preview.hidden = true;
    status.textContent = "";
    button.textContent = "Try again";
    button.disabled = false;
  }
  starting = false;
}

function showIdle() {
  button.textContent = `Record ${seconds} s`;
  button.disabled = false;
  if (!status.textContent.startsWith("Recorded")) status.textContent = "Face the camera, then press Record.";
}

function record() {
  const type = ["video/webm;codecs=vp8", "video/webm", "video/mp4"].find((t) => MediaRecorder.isTypeSupported(t));
  const recorder = new MediaRecorder(stream, {mimeType: type, videoBitsPerSecond: BITS_PER_SECOND});
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  recorder.onstop = () => {
    const reader = new FileReader();
    reader.onload = () => {
      setValue({video: reader.result.split(",", 2)[1], type});  // base64 of the whole file
      status.textContent = "Recorded: its analysis is below. Press Record for another.";
      recording = false;
      showIdle();
    };
    reader.readAsDataURL(new Blob(chunks, {type}));
  };
  recording = true;
  button.disabled = true;
  let left = seconds;
  status.textContent = `Recording… ${left}`;
  const tick = setInterval(() => {
    left -= 1;
    if (left > 0) { status.textContent = `Recording… ${left}`; return; }
    clearInterval(tick);
    recorder.stop();
  }, 1000);
  recorder.start();
}

button.onclick = () => (stream ? record() : startCamera());
window.addEventListener("message", (event) => {
  if (event.data?.type !== "streamlit:render") return;
  seconds = event.data.args.seconds;
  const theme = event.data.theme;
  if (theme) {
    document.body.style.color = theme.textColor;
    document.body.style.setProperty("--primary", theme.primaryColor);
  }
  if (!stream && !starting && !failed) startCamera();
  else if (stream && !recording) showIdle();
});
new ResizeObserver(() => send("streamlit:setFrameHeight", {height: document.documentElement.scrollHeight}))
  .observe(document.body);
send("streamlit:componentReady", {apiVersion: 1});
