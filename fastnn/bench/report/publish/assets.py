"""The site's stylesheet and chart script, inlined into every page (no CDN, no server).

The script reads the page's ``<script type="application/json" id="data">`` blob
(``runs``: axis labels; ``charts``: per point, lines of ``[run, median, low, high]``
in seconds) and draws one SVG chart per point: a log-scale time axis, a band per line
(the interval) and a dot per run; hovering or tapping a dot shows its numbers.
"""

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#fff}
main{max-width:64rem;margin:0 auto;padding:0.8rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;border-top:1px solid #ccc;padding-top:.6rem}
h3{font-size:1.05rem}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.85rem}
td,th{border:1px solid #ddd;padding:.2rem .4rem;text-align:left;white-space:nowrap}
img,svg{max-width:100%;height:auto}
.warn{background:#fff3cd;padding:.4rem}
li.regressed a{color:#b00020;font-weight:600}li.improved a{color:#0a7d2c}
.chart{margin:1rem 0;border:1px solid #eee;padding:.3rem}
.chart h4{margin:.2rem 0;font-size:.9rem}
.legend span{display:inline-block;margin-right:.8rem;font-size:.8rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.2rem;vertical-align:middle}
#tip{position:fixed;left:.5rem;bottom:.5rem;background:#222;color:#fff;padding:.4rem .6rem;
font-size:.8rem;border-radius:4px;display:none;max-width:90vw;z-index:9}
code{background:#f4f4f4;padding:0 .2rem}
"""

JS = r"""
(function(){
var blob=document.getElementById('data');if(!blob)return;
var data=JSON.parse(blob.textContent),box=document.getElementById('charts'),
tip=document.getElementById('tip'),NS='http://www.w3.org/2000/svg',
colors=['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf',
'#7f7f7f','#bcbd22'],names={};
function color(n){if(!(n in names))names[n]=colors[Object.keys(names).length%colors.length];
return names[n];}
function el(tag,attrs,parent){var e=document.createElementNS(NS,tag);
for(var k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}
function fmt(s){var u=[[1,'s'],[1e-3,'ms'],[1e-6,'\u00b5s'],[1e-9,'ns']];
for(var i=0;i<u.length;i++)if(s>=u[i][0]||i==u.length-1)
return (s/u[i][0]).toPrecision(3)+' '+u[i][1];}
function show(text){tip.textContent=text;tip.style.display='block';}
data.charts.forEach(function(chart,ci){
 var div=document.createElement('div');div.className='chart';div.id='chart-'+ci;
 var h=document.createElement('h4');h.textContent=chart.point;div.appendChild(h);
 var W=600,H=220,L=58,R=36,T=10,B=40,lo=Infinity,hi=0,n=Math.max(data.runs.length,2);
 chart.lines.forEach(function(line){line.values.forEach(function(v){
  lo=Math.min(lo,v[2]>0?v[2]:v[1]);hi=Math.max(hi,v[3]>0?v[3]:v[1]);});});
 if(!(lo>0)){lo=hi/10||1e-9;}if(hi<=lo)hi=lo*1.1;
 var l0=Math.log10(lo)-0.05,l1=Math.log10(hi)+0.05;
 function x(i){return L+(W-L-R)*(n==1?0.5:i/(n-1));}
 function y(s){return T+(H-T-B)*(1-(Math.log10(s)-l0)/(l1-l0));}
 var svg=el('svg',{viewBox:'0 0 '+W+' '+H,width:W,height:H,role:'img',
  'aria-label':'time per call across runs: '+chart.point},div);
 el('line',{x1:L,y1:H-B,x2:W-R,y2:H-B,stroke:'#999'},svg);
 el('line',{x1:L,y1:T,x2:L,y2:H-B,stroke:'#999'},svg);
 for(var k=0;k<=3;k++){var s=Math.pow(10,l0+(l1-l0)*k/3),t=el('text',{x:L-4,y:y(s)+4,
  'text-anchor':'end','font-size':10},svg);t.textContent=fmt(s);}
 data.runs.forEach(function(label,i){if(n>8&&i%Math.ceil(n/8))return;
  var t=el('text',{x:x(i),y:H-B+14,'text-anchor':'middle','font-size':9},svg);
  t.textContent=label.split(' ')[0];var d=el('text',{x:x(i),y:H-B+26,'text-anchor':'middle',
  'font-size':8,fill:'#666'},svg);d.textContent=(label.split(' ')[1]||'');});
 chart.lines.forEach(function(line){
  var c=color(line.name),up=[],down=[],path=[];
  line.values.forEach(function(v){up.push(x(v[0])+','+y(v[3]>0?v[3]:v[1]));
   down.unshift(x(v[0])+','+y(v[2]>0?v[2]:v[1]));path.push(x(v[0])+','+y(v[1]));});
  el('polygon',{points:up.concat(down).join(' '),fill:c,'fill-opacity':0.15,stroke:'none',
   'class':'band'},svg);
  el('polyline',{points:path.join(' '),fill:'none',stroke:c,'stroke-width':1.6,
   'class':'series','data-name':line.name},svg);
  line.values.forEach(function(v){
   var dot=el('circle',{cx:x(v[0]),cy:y(v[1]),r:4,fill:c,'class':'dot',tabindex:0},svg),
   text=line.name+' @ '+data.runs[v[0]]+': '+fmt(v[1])+' (95% '+fmt(v[2])+' \u2013 '+
   fmt(v[3])+')';el('title',{},dot).textContent=text;
   dot.addEventListener('mouseenter',function(){show(text);});
   dot.addEventListener('focus',function(){show(text);});
   dot.addEventListener('click',function(){show(text);});
   dot.addEventListener('mouseleave',function(){tip.style.display='none';});});});
 var legend=document.createElement('div');legend.className='legend';
 chart.lines.forEach(function(line){var s=document.createElement('span'),
  i=document.createElement('i');i.style.background=color(line.name);s.appendChild(i);
  s.appendChild(document.createTextNode(line.name));legend.appendChild(s);});
 div.appendChild(legend);box.appendChild(div);});
})();
"""
