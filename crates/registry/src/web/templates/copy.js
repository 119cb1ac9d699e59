// Adds a "Copy" button beside the install line; the page works without it.
document.addEventListener("DOMContentLoaded", () => {
  const line = document.getElementById("install-line");
  if (!line || !navigator.clipboard) return;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Copy";
  button.setAttribute("aria-label", "Copy the install command");
  const status = document.createElement("span");
  status.setAttribute("role", "status");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(line.textContent);
      status.textContent = "Copied.";
    } catch {
      status.textContent = "Could not copy; select the line instead.";
    }
  });
  line.closest(".install").append(button, status);
});
