"""Headless Chromium for page tests: find it, load a page, read back a JS check and a screenshot.

The page under test is copied with two scripts injected: one first in <head> that records
every JavaScript error and unhandled promise rejection, and one that, after load, writes the
errors and the count of drawn Plotly plots into a <pre id="__check"> read from --dump-dom.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

_ERRORS_JS = """<script>window.__errors=[];
window.addEventListener('error',function(e){window.__errors.push(String(e.message||e));});
window.addEventListener('unhandledrejection',function(e){window.__errors.push('rejection: '+String(e.reason));});
</script>"""

# Per plot: its title and subtitle, its x and y axis types, its annotations' texts, how many positive bar values it
# draws, the legend's entries and any that lie outside the plot's box (clipped),
# and every pair of overlapping labels among the parallel-coordinates axis titles, the y tick
# labels, and the axis titles against the title and the menus (bounding boxes, 1 px slack).
# Then a click on the first point that carries a design id (Plotly's plotly_click event), and
# whether the design panel opened with that design.
_CHECK_JS = """<script>window.addEventListener('load',function(){setTimeout(function(){
function boxes(root,sel){return Array.from(root.querySelectorAll(sel)).filter(function(e){
  return e.textContent.trim();}).map(function(e){var r=e.getBoundingClientRect();
  return {text:e.textContent.trim(),l:r.left,r:r.right,t:r.top,b:r.bottom};}).filter(function(r){return r.r>r.l;});}
function hit(a,b){return a.l<b.r-1&&b.l<a.r-1&&a.t<b.b-1&&b.t<a.b-1;}
function overlaps(xs,ys){var out=[];for(var i=0;i<xs.length;i++){for(var j=(ys?0:i+1);j<(ys||xs).length;j++){
  var b=(ys||xs)[j];if(hit(xs[i],b))out.push([xs[i].text,b.text]);}}return out;}
var plots=document.querySelectorAll('.js-plotly-plot');var drawn=0;var figures=[];
plots.forEach(function(p){if(p._fullLayout&&p.querySelector('.main-svg'))drawn++;
  var box=p.getBoundingClientRect();var legend=boxes(p,'.legend .legendtext');
  var axis=boxes(p,'.parcoords .axis-title');
  var others=boxes(p,'.gtitle').concat(boxes(p,'.updatemenu-header-group text'));
  figures.push({title:(p._fullLayout&&p._fullLayout.title&&p._fullLayout.title.text||'').split('<br>')[0],
    legend:legend.map(function(r){return r.text;}),
    annotations:boxes(p,'.annotation-text').map(function(r){return r.text;}),
    legend_clipped:legend.filter(function(r){return r.r>box.right+1||r.l<box.left-1||r.t<box.top-1||r.b>box.bottom+1;}).map(function(r){return r.text;}),
    axis_titles:axis.length,
    axis_types:p._fullLayout?{x:(p._fullLayout.xaxis||{}).type||null,y:(p._fullLayout.yaxis||{}).type||null}:{},
    bar_values:(p.data||[]).filter(function(t){return t.type==='bar';}).reduce(function(n,t){
      return n+(t.y||[]).filter(function(v){return v!==null&&v>0;}).length;},0),
    subtitle:(p._fullLayout&&p._fullLayout.title&&p._fullLayout.title.text||'').split('<br>').slice(1).join(' '),
    overlaps:overlaps(axis).concat(overlaps(axis,others)).concat(overlaps(boxes(p,'.ytick text'))).concat(overlaps(boxes(p,'.xtitle, .ytitle'),others))});});
var click=null;var target=Array.from(plots).find(function(p){return (p.data||[]).some(function(t){
  return t.customdata&&t.customdata.length;});});
if(target&&target.emit){var trace=target.data.find(function(t){return t.customdata&&t.customdata.length;});
  target.emit('plotly_click',{points:[{customdata:trace.customdata[0]}]});
  var panel=document.getElementById('design-panel');
  click={id:String(trace.customdata[0]),shown:!!panel&&!panel.hidden,text:panel?panel.textContent:''};}
var pre=document.createElement('pre');pre.id='__check';
pre.textContent=JSON.stringify({errors:window.__errors,plots:plots.length,drawn:drawn,figures:figures,click:click,
main_svg:document.querySelectorAll('.main-svg').length,has_plotly:typeof Plotly!=='undefined'});
document.body.appendChild(pre);},2500);});</script>"""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def check_page(page: Path, workdir: Path, width: int = 1300, height: int = 4000,
               screenshot: bool = True) -> tuple[dict[str, object], Path]:
    """Load ``page`` headless; return the injected check's result and a screenshot path
    (taken only when ``screenshot``)."""
    chromium = find_chromium()
    assert chromium is not None
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"<head>", "<head>" + _ERRORS_JS, text, count=1)
    text = text.replace("</body>", _CHECK_JS + "</body>", 1)
    probe = workdir / "probe.html"
    probe.write_text(text, encoding="utf-8")
    common = [chromium, *_FLAGS, f"--user-data-dir={workdir / 'profile'}", "--virtual-time-budget=15000"]
    dom = subprocess.run(
        [*common, f"--window-size={width},{height}", "--dump-dom", probe.as_uri()], capture_output=True, text=True,
        timeout=120, check=True
    ).stdout
    found = re.search(r'<pre id="__check">(.*?)</pre>', dom, re.S)
    assert found is not None, "the page's check script never ran (page did not finish loading)"
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    shot = workdir / "page.png"
    if not screenshot:
        return result, shot
    subprocess.run(
        [*common, f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return result, shot


def png_colours(path: Path, limit: int = 64) -> int:
    """How many distinct pixel colours a PNG holds (counting stops at ``limit``)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, colour_type, depth = 8, b"", 0, 0, 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour_type in (2, 6), f"unexpected PNG format {colour_type}/{depth}"
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours: set[bytes] = set()
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        if y % 8 == 0:
            for x in range(0, stride, bpp * 4):
                colours.add(bytes(line[x : x + 3]))
            if len(colours) >= limit:
                return len(colours)
        prev = line
    return len(colours)


def section_screenshot(page: Path, out: Path, keep: list[str], workdir: Path, width: int = 1300,
                       height: int = 1000) -> Path:
    """Screenshot of only the parts of ``page`` that contain one of the element ids in ``keep``
    (e.g. ``["fig-0"]``) or, for a string starting with ``"#summary"``, the page's summary."""
    chromium = find_chromium()
    assert chromium is not None
    script = (
        "<script>window.addEventListener('load',function(){var keep=" + json.dumps(keep) + ";"
        "Array.from(document.body.children).forEach(function(e){"
        "var ok=keep.some(function(k){return k==='#summary'?(e.tagName==='H1'||e.tagName==='H3'||e.tagName==='P'&&"
        "!e.querySelector('.plotly-graph-div')||e.tagName==='TABLE'||e.tagName==='DETAILS'):"
        "(e.id===k||e.querySelector('#'+k));});"
        "if(!ok)e.style.display='none';});window.dispatchEvent(new Event('resize'));});</script>"
    )
    probe = workdir / f"section-{out.stem}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>", 1), encoding="utf-8")
    subprocess.run(
        [chromium, *_FLAGS, f"--user-data-dir={workdir / 'profile'}", "--virtual-time-budget=15000",
         f"--window-size={width},{height}", f"--screenshot={out}", probe.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    return out
